"""Small builders for test metadata."""

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
