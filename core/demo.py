"""A deterministic, realistic demo data set, loaded through the record service.

It is loaded on a first run: while none of the demo's data objects (accounts, contacts,
activities, products) has a record. Teams, roles and users may exist already (``tessera
user add`` before the first ``tessera serve``): the demo uses the ones it finds (a team or
user by name, a role by its permission set) and creates only the missing ones, so loading it
never trips over a name that is taken.
"""

from __future__ import annotations

import datetime as dt
import random

from core.records import Actor
from core.runtime import Runtime
from core.roles import free_role_name

SEED = 2026
TODAY = dt.date(2026, 11, 23)
COMPANY_STEMS = [
    "Northwind", "Blue Harbor", "Sinotech", "Helix", "Granite Peak", "Evergreen", "Huaxin", "Orion", "Redwood",
    "Cobalt", "Zhongshan", "Lumen", "Atlas", "Pinecrest", "Meridian", "Jinling", "Summit", "Tidewater", "Kestrel",
    "Silverline", "Yangtze", "Brightwater", "Ironclad", "Harmony",
]
COMPANY_SUFFIX = ["Manufacturing", "Medical", "Logistics", "Energy", "Systems", "Retail", "Foods", "Bank", "Telecom", "Labs"]
INDUSTRY_BY_SUFFIX = {
    "Manufacturing": "manufacturing", "Medical": "medical", "Logistics": "services", "Energy": "energy",
    "Systems": "technology", "Retail": "retail", "Foods": "retail", "Bank": "finance", "Telecom": "telecommunications",
    "Labs": "technology",
}
CITIES = [("Shanghai", "China"), ("Beijing", "China"), ("Shenzhen", "China"), ("Chicago", "United States"),
          ("Austin", "United States"), ("Berlin", "Germany"), ("Lyon", "France"), ("Singapore", "Singapore")]
FIRST = ["Wei", "Fang", "Lei", "Min", "Jun", "Anna", "David", "Maria", "James", "Sofia", "Chen", "Olivia", "Ravi", "Lucas", "Mei"]
LAST = ["Zhang", "Wang", "Li", "Liu", "Chen", "Smith", "Garcia", "Müller", "Dubois", "Tan", "Patel", "Johnson", "Huang", "Zhao"]
TITLES = ["CEO", "CFO", "Head of Procurement", "IT Director", "Plant Manager", "Buyer", "Engineer", "Operations Lead"]
PRODUCTS = [
    ("CNC Lathe L200", "hardware", "CNC", 48000), ("CNC Lathe L400", "hardware", "CNC", 86000),
    ("Servo Drive S10", "hardware", "Drives", 2400), ("Spindle Kit", "spare_part", "CNC", 650),
    ("Maintenance Plan Basic", "service", "Care", 1200), ("Maintenance Plan Pro", "service", "Care", 3600),
    ("Fleet Monitor", "software", "IoT", 9000), ("Fleet Monitor Seat", "software", "IoT", 45),
    ("On-site Training Day", "service", "Training", 1500), ("Coolant Pump P3", "spare_part", "Pumps", 320),
    ("Vision Inspector V1", "hardware", "Vision", 15500), ("Analytics Suite", "software", "IoT", 24000),
]
SUBJECTS = ["Discovery call", "Send proposal", "Site visit", "Quarterly review", "Follow up on quote",
            "Technical demo", "Contract negotiation", "Onboarding meeting", "Service check-in", "Renewal discussion"]


DATA_OBJECTS = ("account", "contact", "activity", "product")
ROLES = [("Administrator", "admin"), ("Sales Manager", "sales_manager"), ("Sales Rep", "sales_rep")]


def has_data(runtime: Runtime) -> bool:
    """Whether any of the demo's data objects has a record (then it is not a first run)."""
    return any(runtime.records.list(Actor.system(), name, {"limit": 1}).items for name in DATA_OBJECTS)


def load_demo(runtime: Runtime, force: bool = False) -> dict[str, int]:
    """Load the demo set on a first run (or with ``force``, again); return the counts of records created."""
    if has_data(runtime) and not force:
        return {}
    rng = random.Random(SEED)
    loader = _Loader(runtime)
    actor, records, counts, create, ensure = loader.actor, runtime.records, loader.counts, loader.create, loader.ensure
    team_ids = ensure("team", [{"name": "East Sales"}, {"name": "West Sales"}, {"name": "Service"}], "name")
    role_ids = [loader.role(name, permission_set) for name, permission_set in ROLES]
    users = [
        {"username": "demo.manager", "full_name": "Lin Zhou", "email": "lin.zhou@example.com", "role": role_ids[1], "teams": [team_ids[0], team_ids[1]], "language": "zh_cn"},
        {"username": "demo.rep1", "full_name": "Sam Carter", "email": "sam.carter@example.com", "role": role_ids[2], "teams": [team_ids[0]]},
        {"username": "demo.rep2", "full_name": "Yu Chen", "email": "yu.chen@example.com", "role": role_ids[2], "teams": [team_ids[1]], "language": "zh_cn"},
    ]
    user_ids = ensure("user", users, "username")
    ensure("product", [
        {"name": name, "product_code": f"P-{i + 1:04d}", "family": family, "series": series, "unit_price": price}
        for i, (name, family, series, price) in enumerate(PRODUCTS)
    ], "product_code")
    accounts = []
    for i in range(60):
        stem, suffix = COMPANY_STEMS[i % len(COMPANY_STEMS)], COMPANY_SUFFIX[(i * 7) % len(COMPANY_SUFFIX)]
        city, country = rng.choice(CITIES)
        accounts.append({
            "name": f"{stem} {suffix}" + (f" {i // len(COMPANY_STEMS) + 1}" if i >= len(COMPANY_STEMS) else ""),
            "account_number": f"A-{10001 + i}",
            "industry": INDUSTRY_BY_SUFFIX[suffix],
            "account_type": rng.choice(["prospect", "customer", "customer", "partner"]),
            "employees": rng.choice([12, 45, 180, 650, 2300, 12000]),
            "annual_revenue": rng.choice([0.8, 2.5, 14, 60, 250, 1200]) * 1_000_000,
            "year_established": rng.randint(1958, 2019),
            "billing_city": city,
            "billing_country": country,
            "website": f"https://www.{stem.lower().replace(' ', '')}-{suffix.lower()}.example.com",
            "owner": rng.choice(user_ids[1:]),
        })
    account_ids = ensure("account", accounts, "account_number")
    for child, parent in ((account_ids[30], account_ids[0]), (account_ids[31], account_ids[0]), (account_ids[40], account_ids[5])):
        record = records.get(actor, "account", child)
        records.update(actor, "account", child, {"parent_account": parent}, version=record["version"])
    contacts = []
    for i in range(180):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        account_index = i % len(account_ids)
        contacts.append({
            "first_name": first, "last_name": last, "title": rng.choice(TITLES),
            "account": account_ids[account_index],
            "email": f"{first.lower()}.{last.lower()}{i}@example.com".replace("ü", "ue"),
            "phone": f"+86 21 5{rng.randint(1000000, 9999999)}",
            "lead_source": rng.choice(["web", "referral", "event", "partner", "cold_call"]),
            "owner": accounts[account_index]["owner"],
        })
    contact_ids = create("contact", contacts)
    activities = []
    for i in range(300):
        related_index = rng.randrange(len(account_ids))
        due = TODAY + dt.timedelta(days=rng.randint(-45, 45))
        activities.append({
            "subject": rng.choice(SUBJECTS),
            "activity_type": rng.choice(["task", "call", "meeting", "note"]),
            "status": "done" if due < TODAY and rng.random() < 0.8 else rng.choice(["planned", "in_progress"]),
            "priority": rng.choice(["low", "normal", "normal", "high"]),
            "due_date": due.isoformat(),
            "related_object": "account",
            "related_id": account_ids[related_index],
            "contact": contact_ids[(related_index + len(account_ids) * rng.randint(0, 2)) % len(contact_ids)],
            "assigned_to": accounts[related_index]["owner"],
            "owner": accounts[related_index]["owner"],
        })
    activity_ids = create("activity", activities)
    created = {"team": team_ids, "role": role_ids, "user": user_ids, "account": account_ids, "contact": contact_ids,
               "activity": activity_ids}
    for _plugin, added in runtime.per_plugin("tessera_demo_data", runtime=runtime, actor=actor, created=created):
        for object_name, ids in (added or {}).items():
            created.setdefault(object_name, []).extend(ids)
            counts[object_name] = counts.get(object_name, 0) + len(ids)
    return counts


class _Loader:
    """Makes the demo's records as the system and counts them; finds those that exist already by a unique key."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime, self.records, self.actor = runtime, runtime.records, Actor.system()
        self.counts: dict[str, int] = {}

    def create(self, object_name: str, rows: list[dict]) -> list[int]:
        ids = self.records.create_many(self.actor, object_name, rows) if rows else []
        if ids:
            self.counts[object_name] = self.counts.get(object_name, 0) + len(ids)
        return ids

    def ensure(self, object_name: str, rows: list[dict], key: str) -> list[int]:
        """The rows' records, found by ``key`` or created: a name already taken is used, never made twice."""
        wanted = {f"{key}__in": ",".join(row[key] for row in rows)}
        found = {record[key]: record["id"] for record in self.records.each(self.actor, object_name, wanted)}
        made = iter(self.create(object_name, [row for row in rows if row[key] not in found]))
        return [found[row[key]] if row[key] in found else next(made) for row in rows]

    def role(self, name: str, permission_set: str) -> int:
        """The role using ``permission_set``, else a new one called ``name`` (or, when another role has that name, after both)."""
        with self.records.transaction(self.actor) as tx:
            found = tx.list("role", {"permission_set": permission_set, "limit": 1}).items
            if found:
                return found[0]["id"]
            name = free_role_name(tx, name, permission_set)
        return self.create("role", [{"name": name, "permission_set": permission_set}])[0]


def summary(runtime: Runtime) -> str:
    """What is in the database: objects with record counts, and a glimpse of the data."""
    actor = Actor.system()
    meta = runtime.current_metadata()
    lines = ["", "Objects in this database:"]
    for name, obj in sorted(meta.objects.items()):
        count = runtime.records.list(actor, name, {"limit": 1, "count": "exact"}).count
        lines.append(f"  {name:<14} {obj.label('en'):<12} {obj.label('zh-CN'):<8} {count:>6} records  {len(obj.active_fields()):>3} fields")
    top = runtime.records.list(actor, "account", {"sort": "-annual_revenue,name", "limit": 5})
    lines += ["", "Largest accounts:"]
    for account in top.items:
        lines.append(f"  {account['name']:<28} {account['industry'] or '':<20} {account['annual_revenue'] or 0:>16,.0f}")
    upcoming = runtime.records.list(actor, "activity", {"status__in": "planned,in_progress", "due_date__gte": TODAY.isoformat(), "sort": "due_date", "limit": 5})
    lines += ["", "Next open activities:"]
    for activity in upcoming.items:
        related = activity["related_id"]["label"] if activity["related_id"] else ""
        lines.append(f"  {activity['due_date']}  {activity['subject']:<24} {related}")
    return "\n".join(lines)
