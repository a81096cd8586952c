"""Small builders for test metadata, and what API tests send with their requests."""

CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}  # a reader who asks for Chinese


def bearer(client, username: str) -> dict:
    """The Authorization header of a new API token of ``username`` (a person of access_world.py)."""
    from access_world import PASSWORD  # noqa: PLC0415 - access_world builds its metadata with this module

    answer = client.post("/api/auth/token", json={"username": username, "password": PASSWORD, "name": "tests"})
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def changeset(*objects, extensions=(), layouts=(), permission_sets=()):
    data = {"format": "tessera-changeset/1", "objects": list(objects)}
    if extensions:
        data["extensions"] = list(extensions)
    if layouts:
        data["layouts"] = list(layouts)
    if permission_sets:
        data["permission_sets"] = list(permission_sets)
    return data


def label(en, zh=None):
    return {"en": en, "zh-CN": zh or en}
