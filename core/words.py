"""What the record service says to people, in English and Simplified Chinese, in one table.

Every sentence a user can meet (a field's problem, a refused write, a bad filter, an import
row, a failed sign-in) has a code here with its wording in both languages; the values it
names are its ``params``, inserted unchanged. Where it is raised, a problem is a
``Sentence`` (its code and params); it reads as English wherever it is turned into text,
and the edge (the API, a page) says it in the reader's language with ``say``.

Plugins word their own refusals the same way through the ``tessera_words`` hook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any, Iterable, Mapping

LANGUAGES = ("en", "zh-CN")
USER_LANGUAGE = {"en": "en", "zh_cn": "zh-CN"}  # the user object's picklist values

WORDS: dict[str, dict[str, str]] = {
    # a field's value (validation, field types)
    "required": {"en": "is required", "zh-CN": "为必填项"},
    "minimum": {"en": "must be at least {limit}", "zh-CN": "不能小于 {limit}"},
    "exclusive_minimum": {"en": "must be more than {limit}", "zh-CN": "必须大于 {limit}"},
    "maximum": {"en": "must be at most {limit}", "zh-CN": "不能大于 {limit}"},
    "exclusive_maximum": {"en": "must be less than {limit}", "zh-CN": "必须小于 {limit}"},
    "not_an_object": {"en": "a record must be a JSON object of field values", "zh-CN": "记录必须是由字段值组成的 JSON 对象。"},
    "locked_field": {"en": "your role may see this field but not change it", "zh-CN": "你的角色可以查看此字段，但不能修改。"},
    "read_only": {"en": "is read-only: it is set by the system", "zh-CN": "为只读字段：由系统设置。"},
    "system_field": {"en": "is set by the system and cannot be written", "zh-CN": "由系统设置，不能写入。"},
    "unknown_field": {"en": "is not a field of {object}{hint}", "zh-CN": "不是 {object} 的字段{hint}"},
    "not_a_value": {"en": "'{value}' is not one of the values of {field}: {values}{hint}",
                    "zh-CN": "“{value}”不是 {field} 的可选值之一：{values}{hint}"},
    "dependent_not_allowed": {"en": "'{value}' is not allowed when {controlling} is '{controlling_value}'",
                              "zh-CN": "当 {controlling} 为“{controlling_value}”时，不允许选择“{value}”。"},
    "dependent_needs_controlling": {"en": "'{value}' is not allowed while {controlling} is blank", "zh-CN": "{controlling} 为空时，不允许选择“{value}”。"},
    "too_long": {"en": "is too long ({length} characters): at most {limit}", "zh-CN": "太长（{length} 个字符）：最多 {limit} 个。"},
    "too_short": {"en": "is too short: at least {limit} characters", "zh-CN": "太短：至少 {limit} 个字符。"},
    "repeated_value": {"en": "lists the same value twice", "zh-CN": "同一个值列出了两次。"},
    "record_id_shape": {"en": "a related record is written as its id, or as {{\"id\": ...}}",
                        "zh-CN": "关联记录应写成它的 id，或写成 {{\"id\": ...}}。"},
    "wrong_type": {"en": "must be {expected}; got {value}", "zh-CN": "必须是{expected}；收到的是 {value}。"},
    "did_you_mean": {"en": " (did you mean '{name}'?)", "zh-CN": "（你是不是想写“{name}”？）"},
    # what a field type expects, named inside wrong_type
    "expected_integer": {"en": "a whole number", "zh-CN": "整数"},
    "expected_decimal": {"en": "a number", "zh-CN": "数字"},
    "expected_currency": {"en": "an amount (a number)", "zh-CN": "金额（数字）"},
    "expected_percent": {"en": "a percentage (a number)", "zh-CN": "百分比（数字）"},
    "expected_boolean": {"en": "true or false", "zh-CN": "true 或 false"},
    "expected_date": {"en": "a date (YYYY-MM-DD)", "zh-CN": "日期（YYYY-MM-DD）"},
    "expected_datetime": {"en": "a date and time (ISO 8601, e.g. 2026-03-01T09:30:00Z)", "zh-CN": "日期和时间（ISO 8601，例如 2026-03-01T09:30:00Z）"},
    "expected_email": {"en": "an e-mail address", "zh-CN": "电子邮件地址"},
    "expected_phone": {"en": "a phone number (digits, spaces and + ( ) - . only)", "zh-CN": "电话号码（只能有数字、空格和 + ( ) - .）"},
    "expected_url": {"en": "a web address starting with http:// or https://", "zh-CN": "以 http:// 或 https:// 开头的网址"},
    "expected_lookup": {"en": "the id of a record", "zh-CN": "记录的 id"},
    "expected_dynamic_lookup": {"en": "the id of a record", "zh-CN": "记录的 id"},
    "expected_many_to_many": {"en": "a list of record ids", "zh-CN": "记录 id 的列表"},
    "expected_multi_picklist": {"en": "a list of picklist values", "zh-CN": "选项值的列表"},
    "expected_json": {"en": "any JSON value", "zh-CN": "任意 JSON 值"},
    "expected_text": {"en": "a text", "zh-CN": "文本"},
    "expected_valid": {"en": "valid", "zh-CN": "有效值"},
    "not_a_date": {"en": "'{value}' is not a date (use YYYY-MM-DD)", "zh-CN": "“{value}”不是日期（请用 YYYY-MM-DD）。"},
    "not_a_datetime": {"en": "'{value}' is not a date and time (use ISO 8601, e.g. 2026-03-01T09:30:00Z)",
                       "zh-CN": "“{value}”不是日期时间（请用 ISO 8601，例如 2026-03-01T09:30:00Z）。"},
    "not_a_number": {"en": "'{value}' is not a number", "zh-CN": "“{value}”不是数字。"},
    "not_finite": {"en": "'{value}' is not a finite number", "zh-CN": "“{value}”不是有限的数字。"},
    "too_many_digits": {"en": "{value} is too large: at most {digits} digits before the decimal point",
                        "zh-CN": "{value} 太大：小数点前最多 {digits} 位。"},
    "too_many_decimals": {"en": "{value} has more than {scale} decimal places", "zh-CN": "{value} 的小数位超过 {scale} 位。"},
    "not_whole": {"en": "'{value}' is not a whole number", "zh-CN": "“{value}”不是整数。"},
    "too_large_whole": {"en": "{value} is too large for a whole number (at most {limit})", "zh-CN": "{value} 作为整数太大（最大 {limit}）。"},
    "not_boolean": {"en": "'{value}' is not true or false", "zh-CN": "“{value}”不是 true 或 false。"},
    "not_a_record_id": {"en": "'{value}' is not a record id (ids are whole numbers from 1, written in digits 0-9)",
                        "zh-CN": "“{value}”不是记录 id（id 是从 1 开始、用数字 0-9 书写的整数）。"},
    "field_problem": {"en": "{field}: {problem}", "zh-CN": "{field}：{problem}"},
    "link_problem": {"en": "link {position}: {problem}", "zh-CN": "第 {position} 个关联：{problem}"},
    "link_unknown_field": {"en": "link {position}: '{key}' is not a field of this relation{hint}",
                           "zh-CN": "第 {position} 个关联：“{key}”不是此关系的字段{hint}"},
    # records
    "version_required": {"en": "send the version you read, as 'If-Match: \"<version>\"' or a 'version' field, so that your change "
                                 "cannot overwrite someone else's",
                           "zh-CN": "请发送你读到的版本，放在 'If-Match: \"<version>\"' 请求头或“version”字段中，以免你的修改覆盖别人的修改。"},
    "import_job_missing": {"en": "there is no import job {job} of yours (GET /api/imports/jobs lists them)",
                           "zh-CN": "你没有导入任务 {job}（GET /api/imports/jobs 列出你的导入任务）。"},
    "merge_body_needed": {"en": "send the survivor, the records to merge into it and the values to keep, e.g. {example}",
                          "zh-CN": "请发送保留的记录、要并入它的记录和要保留的值，例如 {example}。"},
    "send_object": {"en": "send an object definition: {example}", "zh-CN": "请发送对象定义：{example}"},
    "send_object_changes": {"en": "send the object's settings to change ({allowed}); fields are changed under /fields",
                            "zh-CN": "请发送要修改的对象设置（{allowed}）；字段在 /fields 下修改。"},
    "send_field": {"en": "send a field definition: {example}", "zh-CN": "请发送字段定义：{example}"},
    "send_field_changes": {"en": "send the field's settings to change, e.g. {example}", "zh-CN": "请发送要修改的字段设置，例如 {example}"},
    "send_picklist_value": {"en": "send a picklist value: {example}", "zh-CN": "请发送一个选项值：{example}"},
    "send_layout": {"en": "send a layout: {example}", "zh-CN": "请发送布局：{example}"},
    "no_custom_layout": {"en": "there is no customized layout '{key}' (layouts defined by the base or a plugin stay; replace them with PUT)",
                         "zh-CN": "没有定制布局“{key}”（基础或插件定义的布局会保留；请用 PUT 替换它们）。"},
    "only_custom_fields": {"en": "{object}.{field} is defined by {source}; only custom fields can be renamed or removed",
                           "zh-CN": "{object}.{field} 由 {source} 定义；只有自定义字段才能改名或删除。"},
    "field_name_taken": {"en": "{object} already has a field '{field}'", "zh-CN": "{object} 已有字段“{field}”。"},
    "field_in_use": {"en": "{object}.{field} is in use; remove it first, then purge it", "zh-CN": "{object}.{field} 仍在使用中；请先删除它，再彻底清除。"},
    "not_related": {"en": "{child}.{field} does not point to {object} (GET .../related lists the related lists)",
                    "zh-CN": "{child}.{field} 并不指向 {object}（GET .../related 列出相关列表）。"},
    "not_an_import_job_id": {"en": "'{value}' is not an import job id: job ids are whole numbers from 1, as POST /api/imports/{{object}} answers them",
                             "zh-CN": "“{value}”不是导入任务 id：任务 id 是从 1 开始的整数，即 POST /api/imports/{{object}} 的回答中给出的。"},
    "csv_or_xlsx": {"en": "csv or xlsx", "zh-CN": "csv 或 xlsx"},
    "en_or_zh": {"en": "en or zh-CN", "zh-CN": "en 或 zh-CN"},
    "record_missing": {"en": "{object} {id} does not exist", "zh-CN": "{object} {id} 不存在。"},
    "not_deleted": {"en": "{object} {id} is not a deleted record", "zh-CN": "{object} {id} 不是已删除的记录。"},
    "share_missing": {"en": "{object} {id} has no share {share}", "zh-CN": "{object} {id} 没有共享 {share}。"},
    "may_not": {"en": "your role may not {operation} {object} records", "zh-CN": "你的角色不能对 {object} 记录执行{operation}操作。"},
    "may_not_this": {"en": "your role may not {operation} this {object} record", "zh-CN": "你的角色不能对这条 {object} 记录执行{operation}操作。"},
    "may_not_update_this": {"en": "your role may not update this {object} record", "zh-CN": "你的角色不能更新这条 {object} 记录。"},
    "owned_only": {"en": "your role may only {operation} {object} records owned by {whom}",
                   "zh-CN": "你的角色只能对 {whom} 负责的 {object} 记录执行{operation}操作。"},
    "whom_own": {"en": "yourself", "zh-CN": "你自己"},
    "whom_team": {"en": "yourself or a member of your teams", "zh-CN": "你自己或你团队的成员"},
    "operation_read": {"en": "read", "zh-CN": "读取"},
    "operation_create": {"en": "create", "zh-CN": "创建"},
    "operation_update": {"en": "update", "zh-CN": "更新"},
    "operation_delete": {"en": "delete", "zh-CN": "删除"},
    "only_admin_grants": {"en": "only an admin may give or take away the admin permission set (here through {through})",
                          "zh-CN": "只有管理员才能授予或收回管理员权限集（此处通过 {through}）。"},
    "only_customizer_grants": {"en": "only an admin or a customizer may give or take away a customizer permission set (here through {through})",
                               "zh-CN": "只有管理员或定制者才能授予或收回定制者权限集（此处通过 {through}）。"},
    "through_field": {"en": "a {object}'s {field}", "zh-CN": "{object} 的 {field}"},
    "through_set": {"en": "the permission set '{name}'", "zh-CN": "权限集“{name}”"},
    "through_user": {"en": "the user '{name}'", "zh-CN": "用户“{name}”"},
    "through_role": {"en": "a role for the permission set '{name}'", "zh-CN": "使用权限集“{name}”的角色"},
    "last_admin": {"en": "'{name}' is the last active admin: nobody could administer Tessera after this change; make another user an "
                         "admin first (give them a role with the admin permission set)",
                   "zh-CN": "“{name}”是最后一位在职管理员：此修改之后将无人能管理 Tessera；请先让另一位用户成为管理员（给他一个带管理员权限集的角色）。"},
    "last_admins": {"en": "no active admin would be left ({names} were the last active admins): nobody could administer Tessera after "
                          "this change; make another user an admin first (give them a role with the admin permission set)",
                    "zh-CN": "将不再有在职管理员（{names} 是最后的在职管理员）：此修改之后将无人能管理 Tessera；请先让另一位用户成为管理员（给他一个带管理员权限集的角色）。"},
    "kind_needed": {"en": "give {kind} (the kind of record) with {field}", "zh-CN": "请随 {field} 一起给出 {kind}（记录的类型）。"},
    "unknown_object": {"en": "'{name}' is not an object", "zh-CN": "“{name}”不是对象。"},
    "not_unique": {"en": "'{value}' is already used by another {object}; it must be unique", "zh-CN": "“{value}”已被另一条 {object} 使用；它必须唯一。"},
    "repeated_in_batch": {"en": "'{value}' appears more than once in this batch (rows {rows}); it must be unique",
                          "zh-CN": "“{value}”在这一批中出现了不止一次（第 {rows} 行）；它必须唯一。"},
    "may_not_see_field": {"en": "your role may not see {object}.{field}", "zh-CN": "你的角色不能查看 {object}.{field}。"},
    "stale_version": {"en": "{object} {id} was changed by someone else (you had version {expected}, it is now at version {current}); "
                            "reload it and apply your change again",
                      "zh-CN": "{object} {id} 已被他人修改（你拿到的是第 {expected} 版，现在是第 {current} 版）；请重新加载后再修改一次。"},
    "still_referenced": {"en": "cannot delete {object} {ids}: {count} {other} record(s) point to it through {other}.{field}; "
                               "reassign or delete them first",
                         "zh-CN": "无法删除 {object} {ids}：有 {count} 条 {other} 记录通过 {other}.{field} 指向它；请先改指或删除它们。"},
    "not_mergeable": {"en": "{object} {id} cannot be merged: {reason}", "zh-CN": "{object} {id} 无法合并：{reason}"},
    "merge_list_needed": {"en": "give the ids of the records to merge into the survivor, as a list", "zh-CN": "请以列表给出要并入保留记录的记录 id。"},
    "merge_into_itself": {"en": "record {id} is the survivor; it cannot also be merged into itself", "zh-CN": "记录 {id} 是保留记录，不能再并入它自己。"},
    "merge_too_many": {"en": "merge at most {limit} records at a time into one survivor", "zh-CN": "一次最多把 {limit} 条记录并入一条保留记录。"},
    "merge_not_for": {"en": "{object} records cannot be merged", "zh-CN": "{object} 记录不能合并。"},
    "merge_values_shape": {"en": 'give an object: {{"<field>": <id of the record whose value to keep>}}',
                           "zh-CN": '请给出一个对象：{{"<字段>": <要保留其值的记录 id>}}。'},
    "merge_unknown_field": {"en": "is not a field of {object} whose value you may choose{hint}", "zh-CN": "不是 {object} 中你可以选择取值的字段{hint}"},
    "merge_not_among": {"en": "record {id} is not one of the records being merged", "zh-CN": "记录 {id} 不在要合并的记录之中。"},
    "merge_pair": {"en": "take {field} and {kind} from the same record", "zh-CN": "请从同一条记录中取 {field} 和 {kind}。"},
    "merge_not_an_id": {"en": "'{value}' is not a record id (ids are whole numbers from 1)", "zh-CN": "“{value}”不是记录 id（id 是从 1 开始的整数）。"},
    "merge_versions_shape": {"en": 'give an object: {{"<record id>": <the version you read>}}', "zh-CN": '请给出一个对象：{{"<记录 id>": <你读到的版本>}}。'},
    "merge_version_not_among": {"en": "'{key}' is not one of the records being merged ({ids})", "zh-CN": "“{key}”不在要合并的记录之中（{ids}）。"},
    "merge_not_a_version": {"en": "'{value}' (record {id}) is not a record version (a whole number)", "zh-CN": "“{value}”（记录 {id}）不是记录版本（应为整数）。"},
    "version_needed": {"en": "an update must carry the record's version (the If-Match header or a 'version' field), so that it "
                             "cannot overwrite someone else's change",
                       "zh-CN": "更新必须带上记录的版本（If-Match 请求头或“version”字段），以免覆盖他人的修改。"},
    "not_a_version": {"en": "'{value}' is not a record version (a whole number)", "zh-CN": "“{value}”不是记录版本（应为整数）。"},
    "version_from_one": {"en": "'{value}' is not a record version (versions count from 1)", "zh-CN": "“{value}”不是记录版本（版本从 1 开始）。"},
    "not_share_level": {"en": "'{level}' is not a share level; use read or edit", "zh-CN": "“{level}”不是共享级别；请用 read 或 edit。"},
    "share_with_one": {"en": "share with either a user or a team", "zh-CN": "请共享给一个用户或一个团队，二者选一。"},
    "not_an_id_of": {"en": "'{value}' is not the id of a {object}", "zh-CN": "“{value}”不是 {object} 的 id。"},
    "invalid_record": {"en": "the {object} record is not valid: {problems}", "zh-CN": "{object} 记录无效：{problems}"},
    # list queries (filters)
    "not_filterable_field": {"en": "'{field}' is not a field of {object}{hint}", "zh-CN": "“{field}”不是 {object} 的字段{hint}"},
    "unknown_operator": {"en": "'{operator}' is not a filter operator{hint}; use one of {operators}",
                         "zh-CN": "“{operator}”不是筛选运算符{hint}；请使用以下之一：{operators}"},
    "operator_not_for_type": {"en": "'{operator}' does not apply to {type} field '{field}'; use {operators}",
                              "zh-CN": "“{operator}”不适用于 {type} 字段“{field}”；请使用 {operators}"},
    "not_sortable": {"en": "cannot sort by '{field}': a {type} field is not sortable", "zh-CN": "不能按“{field}”排序：{type} 字段不可排序。"},
    "between": {"en": "{name} must be between {low} and {high}", "zh-CN": "{name} 必须在 {low} 到 {high} 之间。"},
    "count_option": {"en": "'{value}' is not a count option; use count=true (counted up to {cap}) or count=exact",
                     "zh-CN": "“{value}”不是计数选项；请用 count=true（最多计到 {cap}）或 count=exact。"},
    "not_a_group_field": {"en": "'{field}' is not a picklist, boolean or lookup field of {object}",
                          "zh-CN": "“{field}”不是 {object} 的选项、布尔或查找字段。"},
    "not_a_number_field": {"en": "'{field}' is not a number field of {object}", "zh-CN": "“{field}”不是 {object} 的数字字段。"},
    "nothing_to_search": {"en": "{object} has no field you may search", "zh-CN": "{object} 没有你可以搜索的字段。"},
    "search_text_needed": {"en": "give the text to search for", "zh-CN": "请给出要搜索的文字。"},
    "search_too_long": {"en": "search for at most {limit} characters", "zh-CN": "搜索文字最多 {limit} 个字符。"},
    "no_such_objects": {"en": "no object is named {names}", "zh-CN": "没有名为 {names} 的对象。"},
    "empty_in": {"en": "give at least one value, separated by commas", "zh-CN": "请至少给出一个值，用逗号分隔。"},
    "json_filter": {"en": "json fields can only be filtered with __isnull", "zh-CN": "json 字段只能用 __isnull 筛选。"},
    # imports
    "cell_count": {"en": "the row has {cells} cells but the header has {columns} columns", "zh-CN": "该行有 {cells} 个单元格，但表头有 {columns} 列。"},
    "no_match": {"en": "no {object} has the {match} {value}", "zh-CN": "没有 {match} 为 {value} 的 {object}。"},
    "several_match": {"en": "'{value}' is the {match} of {count} {object} records (ids {ids}); match on a field that is unique",
                      "zh-CN": "“{value}”是 {count} 条 {object} 记录的 {match}（id：{ids}）；请按唯一的字段匹配。"},
    "several_match_no_ids": {"en": "'{value}' is the {match} of {count} {object} records; match on a field that is unique",
                             "zh-CN": "“{value}”是 {count} 条 {object} 记录的 {match}；请按唯一的字段匹配。"},
    "matches_several": {"en": "matches {count} {object} records by {by} (ids {ids}); merge them or match on a unique field",
                        "zh-CN": "按 {by} 匹配到 {count} 条 {object} 记录（id：{ids}）；请合并它们，或按唯一的字段匹配。"},
    "field_in_column": {"en": "{field} (column '{column}')", "zh-CN": "{field}（“{column}”列）"},
    "cell_not_an_id": {"en": "'{value}' is not a record id (a whole number from 1, in digits 0-9)",
                       "zh-CN": "“{value}”不是记录 id（从 1 开始、用数字 0-9 书写的整数）。"},
    "cell_not_boolean": {"en": "'{value}' is not true or false (yes/no, 1/0, true/false)", "zh-CN": "“{value}”不是真或假（yes/no、1/0、true/false）。"},
    "cell_not_a_date": {"en": "'{value}' is not a date in any of the formats {formats}; add its format to the mapping's date_formats",
                        "zh-CN": "“{value}”不符合任何日期格式 {formats}；请把它的格式加入映射的 date_formats。"},
    "cell_not_a_datetime": {"en": "'{value}' is not a date and time (ISO 8601, e.g. 2026-03-01T09:30:00Z, or a date format of the mapping)",
                            "zh-CN": "“{value}”不是日期时间（ISO 8601，例如 2026-03-01T09:30:00Z，或映射中的日期格式）。"},
    "cell_not_json": {"en": "is not JSON ({reason} at character {position})", "zh-CN": "不是 JSON（第 {position} 个字符处：{reason}）。"},
    # JSON documents (request bodies, metadata, mappings) checked against their JSON Schema
    "json_string": {"en": "a text", "zh-CN": "文本"},
    "json_integer": {"en": "a whole number", "zh-CN": "整数"},
    "json_number": {"en": "a number", "zh-CN": "数字"},
    "json_boolean": {"en": "true or false", "zh-CN": "true 或 false"},
    "json_object": {"en": "an object ({{...}})", "zh-CN": "对象（{{...}}）"},
    "json_array": {"en": "a list ([...])", "zh-CN": "列表（[...]）"},
    "json_null": {"en": "null", "zh-CN": "null"},
    "either": {"en": "{first} or {other}", "zh-CN": "{first}或{other}"},
    "must_be_type": {"en": "must be {types}", "zh-CN": "必须是{types}。"},
    "must_be_type_not": {"en": "must be {types}, not {got}", "zh-CN": "必须是{types}，而不是{got}。"},
    "not_an_allowed_value": {"en": "{value} is not one of the allowed values", "zh-CN": "{value} 不是允许的值之一。"},
    "must_be_constant": {"en": "must be {value}", "zh-CN": "必须是 {value}。"},
    "key_required": {"en": "'{key}' is required", "zh-CN": "“{key}”为必填项。"},
    "not_a_known_key": {"en": "'{key}' is not a known key{hint}", "zh-CN": "“{key}”不是已知的键{hint}"},
    "not_a_field_type": {"en": "{value} is not a field type{hint}", "zh-CN": "{value} 不是字段类型{hint}"},
    "not_one_of": {"en": "{value} is not one of {values}{hint}", "zh-CN": "{value} 不是以下之一：{values}{hint}"},
    "not_allowed_pattern": {"en": "{value} is not allowed here: {hint}", "zh-CN": "此处不允许 {value}：{hint}。"},
    "pattern_name": {"en": "use lower-case letters, digits and underscores, starting with a letter",
                     "zh-CN": "请使用小写字母、数字和下划线，并以字母开头"},
    "pattern_value": {"en": "use lower-case letters, digits and underscores", "zh-CN": "请使用小写字母、数字和下划线"},
    "pattern_colour": {"en": "use a colour like #1f77b4", "zh-CN": "请使用 #1f77b4 这样的颜色"},
    "pattern_currency": {"en": "use a three-letter currency code like USD or CNY", "zh-CN": "请使用 USD 或 CNY 这样的三字母货币代码"},
    "pattern_icon": {"en": "use the name of a Lucide icon, like building-2 (lower-case words joined by hyphens)",
                     "zh-CN": "请使用 Lucide 图标的名称，例如 building-2（用连字符连接的小写单词）"},
    "pattern_other": {"en": "it must match {pattern}", "zh-CN": "它必须符合 {pattern}"},
    "must_not_be_empty": {"en": "must not be empty", "zh-CN": "不能为空。"},
    "at_least_characters": {"en": "must be at least {limit} characters long", "zh-CN": "至少要有 {limit} 个字符。"},
    "at_most_characters": {"en": "is too long: at most {limit} characters", "zh-CN": "太长：最多 {limit} 个字符。"},
    "at_least_one_item": {"en": "needs at least 1 item", "zh-CN": "至少需要 1 项。"},
    "at_least_items": {"en": "needs at least {limit} items", "zh-CN": "至少需要 {limit} 项。"},
    "at_most_items": {"en": "has too many items: at most {limit}", "zh-CN": "项数太多：最多 {limit} 项。"},
    "same_item_twice": {"en": "lists the same item twice", "zh-CN": "同一项列出了两次。"},
    "not_valid_format": {"en": "{value} is not a valid {format}", "zh-CN": "{value} 不是有效的 {format}。"},
    "not_allowed_here": {"en": "is not allowed here", "zh-CN": "此处不允许。"},
    # the request itself (its body, its headers, its path)
    "body_missing": {"en": "the request has no body; send JSON, e.g. {{\"name\": \"Acme\"}}",
                     "zh-CN": "请求没有正文；请发送 JSON，例如 {{\"name\": \"Acme\"}}。"},
    "body_not_utf8": {"en": "the body is not valid JSON: it is not UTF-8 text", "zh-CN": "正文不是有效的 JSON：它不是 UTF-8 文本。"},
    "body_not_json": {"en": "the body is not valid JSON: {reason} at line {line}, column {column}",
                      "zh-CN": "正文不是有效的 JSON：第 {line} 行第 {column} 列：{reason}"},
    "body_refused_json": {"en": "the body is not valid JSON: {reason}", "zh-CN": "正文不是有效的 JSON：{reason}"},
    "body_not_a_json_object": {"en": "the body is not valid JSON; send a JSON object such as {{\"name\": \"Acme\"}}",
                               "zh-CN": "正文不是有效的 JSON；请发送 JSON 对象，例如 {{\"name\": \"Acme\"}}。"},
    "at_pointer": {"en": "{pointer}: {problem}", "zh-CN": "{pointer}：{problem}"},
    "request_not_valid": {"en": "the request is not valid", "zh-CN": "请求无效。"},
    "not_handled": {"en": "the request could not be handled", "zh-CN": "无法处理此请求。"},
    "body_too_large": {"en": "the request body is too large: at most {limit} bytes", "zh-CN": "请求正文太大：最多 {limit} 字节。"},
    "csrf_refused": {"en": "the CSRF token is missing or wrong: send the csrftoken cookie's value in the X-CSRFToken header "
                           "(or the _csrf_token form field)",
                     "zh-CN": "CSRF 令牌缺失或有误：请在 X-CSRFToken 请求头（或 _csrf_token 表单字段）中发送 csrftoken Cookie 的值。"},
    "nothing_here": {"en": "there is nothing at {path}; the API is described at /schema", "zh-CN": "{path} 处没有内容；API 的说明见 /schema。"},
    "method_not_allowed": {"en": "{method} is not allowed on {path}", "zh-CN": "{path} 不允许 {method} 请求。"},
    "server_error": {"en": "something went wrong on the server (incident {incident}); it has been logged",
                     "zh-CN": "服务器出错了（事件编号 {incident}）；已记入日志。"},
    "validation_failed": {"en": "Validation failed for {request}", "zh-CN": "请求的参数无效：{request}"},
    "parameter_not_valid": {"en": "{reason}", "zh-CN": "值无效：{reason}"},
    "needs_admin": {"en": "this needs the admin role", "zh-CN": "这需要管理员角色。"},
    "needs_customizer": {"en": "changing the configuration needs the admin role or a role with the 'customizer' permission",
                         "zh-CN": "修改配置需要管理员角色，或带有“customizer”权限的角色。"},
    "not_an_export_format": {"en": "format: '{value}' is not an export format; use csv or xlsx", "zh-CN": "format：“{value}”不是导出格式；请用 csv 或 xlsx。"},
    "not_an_export_column": {"en": "'{column}' is not a column of {object} you may export{hint}",
                             "zh-CN": "“{column}”不是你可以导出的 {object} 列{hint}"},
    "not_a_label_language": {"en": "labels: '{value}' is not a language of the labels; use en or zh-CN",
                             "zh-CN": "labels：“{value}”不是标签的语言；请用 en 或 zh-CN。"},
    "not_an_audit_event": {"en": "'{event}' is not an audit event; events: {events}", "zh-CN": "“{event}”不是审计事件；事件有：{events}"},
    "configuration_refused": {"en": "the configuration was refused; nothing was changed: {problems}",
                              "zh-CN": "配置被拒绝，未做任何修改：{problems}"},
    "sign_in_first": {"en": "sign in first: send 'Authorization: Bearer <token>' (POST /api/auth/token makes one) or sign in at "
                            "POST /api/auth/login",
                      "zh-CN": "请先登录：发送“Authorization: Bearer <token>”（POST /api/auth/token 可创建令牌），或通过 POST /api/auth/login 登录。"},
    "bearer_scheme": {"en": "use 'Authorization: Bearer <token>'", "zh-CN": "请使用“Authorization: Bearer <token>”。"},
    "token_not_valid": {"en": "the token is not valid", "zh-CN": "令牌无效。"},
    "token_revoked": {"en": "the token has been revoked", "zh-CN": "令牌已被吊销。"},
    "token_expired": {"en": "the token has expired; create a new one", "zh-CN": "令牌已过期；请创建一个新的。"},
    "token_user_inactive": {"en": "the token's user is not active", "zh-CN": "令牌所属的用户已停用。"},
    # import files
    "file_missing": {"en": "{file}: there is no such file", "zh-CN": "{file}：没有这个文件。"},
    "file_old_excel": {"en": "{file}: the old Excel format (.xls) cannot be read; save the sheet as .xlsx or CSV",
                       "zh-CN": "{file}：无法读取旧的 Excel 格式（.xls）；请把工作表另存为 .xlsx 或 CSV。"},
    "file_unreadable": {"en": "{file}: the file cannot be read ({reason})", "zh-CN": "{file}：无法读取文件（{reason}）。"},
    "file_empty": {"en": "{file}: the file is empty; the first row must name the columns", "zh-CN": "{file}：文件是空的；第一行必须写出各列的名称。"},
    "sheet_empty": {"en": "{file}: the sheet is empty; the first row must name the columns", "zh-CN": "{file}：工作表是空的；第一行必须写出各列的名称。"},
    "no_such_sheet": {"en": "{file}: there is no sheet '{sheet}'; the sheets are: {sheets}", "zh-CN": "{file}：没有工作表“{sheet}”；现有的工作表：{sheets}"},
    "column_name_too_long": {"en": "{file}: row 1, column {column}: the column name has {length} characters; a column name may have at most {limit}",
                             "zh-CN": "{file}：第 1 行第 {column} 列：列名有 {length} 个字符；列名最多 {limit} 个字符。"},
    "column_name_nul": {"en": "{file}: row 1, column {column}: the column name holds a NUL character; save the file again from a spreadsheet",
                        "zh-CN": "{file}：第 1 行第 {column} 列：列名含有 NUL 字符；请用电子表格软件重新保存文件。"},
    "row_problem": {"en": "{file}: row {row}: {problem}", "zh-CN": "{file}：第 {row} 行：{problem}"},
    "csv_cell_too_long": {"en": "a cell is longer than {limit} characters; a quote (\") is probably left open before it",
                          "zh-CN": "有单元格超过 {limit} 个字符；它前面很可能有一个引号（\"）没有闭合。"},
    "csv_not_valid": {"en": "not valid CSV ({reason})", "zh-CN": "不是有效的 CSV（{reason}）。"},
    "xlsx_unreadable": {"en": "{file}: not a readable XLSX file ({reason}); open it in a spreadsheet and save it again",
                        "zh-CN": "{file}：不是可读取的 XLSX 文件（{reason}）；请用电子表格软件打开并重新保存。"},
    "xlsx_damaged": {"en": "{file}: the XLSX file is damaged ({reason})", "zh-CN": "{file}：XLSX 文件已损坏（{reason}）。"},
    "xlsx_damaged_here": {"en": "the XLSX file is damaged ({reason})", "zh-CN": "XLSX 文件已损坏（{reason}）。"},
    "encoding_hint": {"en": "name its encoding (Encoding in the import wizard, \"encoding\" in a mapping, --encoding on the command line)",
                      "zh-CN": "请指明它的编码（导入向导中的“编码”、映射中的 \"encoding\"、命令行的 --encoding）"},
    "row_not_decoded": {"en": "{file}: row {row}: the text is not {encoding} ({reason}); {hint}",
                        "zh-CN": "{file}：第 {row} 行：文字不是 {encoding} 编码（{reason}）；{hint}。"},
    "byte_not_decoded": {"en": "{file}: line {line}: byte {byte} is not {encoding} text; {hint}",
                         "zh-CN": "{file}：第 {line} 行：第 {byte} 个字节不是 {encoding} 文字；{hint}。"},
    "neither_utf8_nor_gbk": {"en": "{file}: line {line}: byte {byte} is neither UTF-8 nor GBK text; save the file as 'CSV UTF-8', or {hint}",
                             "zh-CN": "{file}：第 {line} 行：第 {byte} 个字节既不是 UTF-8 也不是 GBK 文字；请把文件另存为“CSV UTF-8”，或{hint}。"},
    "unknown_encoding": {"en": "{file}: '{encoding}' is not an encoding this server knows (for example utf-8, gbk, gb18030, utf-16, latin-1)",
                         "zh-CN": "{file}：服务器不认识编码“{encoding}”（例如 utf-8、gbk、gb18030、utf-16、latin-1）。"},
    # import mappings
    "mapping_other_object": {"en": "the mapping is for the object '{mapped}', not '{object}'", "zh-CN": "该映射用于对象“{mapped}”，而不是“{object}”。"},
    "mapping_unknown_column": {"en": "the mapping names the column '{column}', which the file does not have{hint}",
                               "zh-CN": "映射中写了列“{column}”，但文件中没有这一列{hint}"},
    "mapping_same_field": {"en": "columns '{first}' and '{second}' both fill the field '{field}'; map one of them to null",
                           "zh-CN": "列“{first}”和“{second}”都填入字段“{field}”；请把其中一列映射为 null。"},
    "mapping_same_column_name": {"en": "columns {first} and {second} are both named '{name}'; rename one",
                                 "zh-CN": "第 {first} 列和第 {second} 列都叫“{name}”；请重命名其中一列。"},
    "in_column": {"en": "column '{column}': {problem}", "zh-CN": "“{column}”列：{problem}"},
    "mapping_unknown_field": {"en": "'{field}' is not a field of {object}{hint}", "zh-CN": "“{field}”不是 {object} 的字段{hint}"},
    "mapping_not_importable": {"en": "{object}.{field} is a {type} field, which an import cannot fill",
                               "zh-CN": "{object}.{field} 是 {type} 字段，导入无法填写。"},
    "mapping_read_only": {"en": "{object}.{field} is read-only: the system sets it", "zh-CN": "{object}.{field} 为只读字段：由系统设置。"},
    "mapping_match_not_lookup": {"en": "'match' applies to lookup fields; {field} is a {type} field",
                                 "zh-CN": "“match”只适用于查找字段；{field} 是 {type} 字段。"},
    "mapping_match_unknown": {"en": "{field} finds {target} records by '{match}', which is not a field of {target}{hint}",
                              "zh-CN": "{field} 按“{match}”查找 {target} 记录，但它不是 {target} 的字段{hint}"},
    "mapping_match_type": {"en": "{target}.{match} is a {type} field; a lookup matches a text, number or id",
                           "zh-CN": "{target}.{match} 是 {type} 字段；查找只能按文本、数字或 id 匹配。"},
    "mapping_target_unreadable": {"en": "your role may not read {target} records, so {field} cannot find them",
                                  "zh-CN": "你的角色不能读取 {target} 记录，因此 {field} 无法找到它们。"},
    "rule_many_to_many": {"en": "duplicate rule {rule}: {fields} links several records (many-to-many), so records cannot be matched on it; "
                                "match on a field that holds one value",
                          "zh-CN": "查重规则 {rule}：{fields} 关联多条记录（多对多），不能按它匹配记录；请按只有一个值的字段匹配。"},
    "rule_unmapped_field": {"en": "duplicate rule {rule}: {fields} is not filled by any column, so records cannot be matched on it; "
                                  "the mapped fields are: {mapped}",
                            "zh-CN": "查重规则 {rule}：没有列填入 {fields}，不能按它匹配记录；已映射的字段：{mapped}"},
    "rule_unmapped_fields": {"en": "duplicate rule {rule}: {fields} are not filled by any column, so records cannot be matched on them; "
                                   "the mapped fields are: {mapped}",
                             "zh-CN": "查重规则 {rule}：没有列填入 {fields}，不能按它们匹配记录；已映射的字段：{mapped}"},
    "none_mapped": {"en": "none", "zh-CN": "无"},
    "rule_then": {"en": "duplicate rule {rule}: then is '{then}'; use update, skip or create",
                  "zh-CN": "查重规则 {rule}：then 是“{then}”；请使用 update、skip 或 create。"},
    "upload_not_multipart": {"en": "send the file as multipart/form-data with a 'file' part, e.g. curl -F file=@accounts.csv",
                             "zh-CN": "请以 multipart/form-data 发送文件，放在“file”部分中，例如 curl -F file=@accounts.csv。"},
    "upload_too_large": {"en": "the upload is too large: at most {limit} bytes (1 GiB); split the file and import the parts",
                         "zh-CN": "上传的文件太大：最多 {limit} 字节（1 GiB）；请把文件拆开，分几部分导入。"},
    "upload_bad_multipart": {"en": "the body is not valid multipart/form-data ({reason}); send it as curl -F file=@accounts.csv does",
                             "zh-CN": "正文不是有效的 multipart/form-data（{reason}）；请像 curl -F file=@accounts.csv 那样发送。"},
    "upload_unknown_part": {"en": "the form has a part '{part}' that an import does not take{hint}; the parts are: {parts}",
                            "zh-CN": "表单中有导入不接受的部分“{part}”{hint}；可用的部分：{parts}"},
    "upload_part_twice": {"en": "the form has more than one '{part}' part; send one", "zh-CN": "表单中有不止一个“{part}”部分；请只发送一个。"},
    "upload_no_file": {"en": "the form has no 'file' part: send the CSV or XLSX file in it, e.g. curl -F file=@accounts.csv",
                       "zh-CN": "表单中没有“file”部分：请把 CSV 或 XLSX 文件放在其中发送，例如 curl -F file=@accounts.csv。"},
    "upload_file_is_text": {"en": "the 'file' part is text, not a file: send it with a file name, e.g. curl -F file=@accounts.csv",
                            "zh-CN": "“file”部分是文本而不是文件：请带上文件名发送，例如 curl -F file=@accounts.csv。"},
    "upload_file_empty": {"en": "'{file}' is empty: send a CSV or XLSX file with a header row", "zh-CN": "“{file}”是空的：请发送带表头行的 CSV 或 XLSX 文件。"},
    "option_given_twice": {"en": "'{option}' is given twice, in the options part and as its own part; give it once",
                           "zh-CN": "“{option}”给了两次，在 options 部分中和它自己的部分中；请只给一次。"},
    "options_not_an_object": {"en": 'the options part must be a JSON object, e.g. {{"dry_run": false, "mapping": {{...}}}}',
                              "zh-CN": 'options 部分必须是 JSON 对象，例如 {{"dry_run": false, "mapping": {{...}}}}。'},
    "options_unknown_key": {"en": "options has a key '{key}' that an import does not take{hint}; the keys are: {keys}",
                            "zh-CN": "options 中有导入不接受的键“{key}”{hint}；可用的键：{keys}"},
    "option_is_a_file": {"en": "the '{option}' part is a file; send it as a text field", "zh-CN": "“{option}”部分是文件；请作为文本字段发送。"},
    "option_not_boolean": {"en": "{option}: '{value}' is not true or false", "zh-CN": "{option}：“{value}”不是 true 或 false。"},
    "option_unknown_encoding": {"en": "encoding: '{value}' is not an encoding this server knows; e.g. utf-8, gbk, utf-16, latin-1",
                                "zh-CN": "encoding：服务器不认识编码“{value}”；例如 utf-8、gbk、utf-16、latin-1。"},
    "option_sheet_needed": {"en": 'sheet: name a sheet of the XLSX file, e.g. "Sheet1"', "zh-CN": "sheet：请写出 XLSX 文件中的一个工作表名，例如“Sheet1”。"},
    "option_batch_size": {"en": "batch_size: '{value}' is not a whole number from 1 to {limit}", "zh-CN": "batch_size：“{value}”不是 1 到 {limit} 之间的整数。"},
    "import_busy": {"en": "import job {job} is importing this file right now; wait for it to finish (a run that stopped with its "
                          "process can be resumed {minutes} minutes after its last progress)",
                    "zh-CN": "导入任务 {job} 正在导入这个文件；请等它完成（随进程一起停下的运行，可在最后一次进展 {minutes} 分钟后继续）。"},
    "import_settings_misfit": {"en": "the import settings do not fit the file: {problems}", "zh-CN": "导入设置与文件不符：{problems}"},
    "upload_empty": {"en": "'{file}' is empty: choose a CSV or XLSX file with a header row", "zh-CN": "“{file}”是空的：请选择带表头行的 CSV 或 XLSX 文件。"},
    "upload_unknown": {"en": "the uploaded file is not known (upload it again)", "zh-CN": "不认识这个上传的文件（请重新上传）。"},
    "upload_gone": {"en": "the uploaded file is not known any more (upload it again)", "zh-CN": "上传的文件已不再保留（请重新上传）。"},
    "upload_not_a_table": {"en": "'{file}' is not a CSV or XLSX file (its name must end with .csv, .txt or .xlsx)",
                           "zh-CN": "“{file}”不是 CSV 或 XLSX 文件（文件名必须以 .csv、.txt 或 .xlsx 结尾）。"},
    # metadata (Setup, configuration files and changesets)
    "name_a_field": {"en": "a field", "zh-CN": "字段"},
    "name_an_object": {"en": "an object", "zh-CN": "对象"},
    "name_system_field": {"en": "'{name}' is a system field every object has; choose another name",
                          "zh-CN": "“{name}”是每个对象都有的系统字段；请换一个名称。"},
    "name_reserved": {"en": "'{name}' is a reserved word and cannot name {what}", "zh-CN": "“{name}”是保留字，不能用作{what}的名称。"},
    "name_kept_for_engine": {"en": "'{name}' may not contain '__' or start with 'tessera_' (they are kept for the engine)",
                             "zh-CN": "“{name}”不能包含“__”，也不能以“tessera_”开头（它们留给系统引擎使用）。"},
    "field_defined_twice": {"en": "field '{field}' is defined twice in '{object}'", "zh-CN": "字段“{field}”在“{object}”中定义了两次。"},
    "option_not_for_type": {"en": "'{key}' does not apply to a {type} field", "zh-CN": "“{key}”不适用于 {type} 字段。"},
    "value_listed_twice": {"en": "picklist value '{value}' is listed twice", "zh-CN": "选项值“{value}”列出了两次。"},
    "default_not_a_value": {"en": "default '{value}' is not one of the values: {values}{hint}", "zh-CN": "默认值“{value}”不是可选值之一：{values}{hint}"},
    "object_exists": {"en": "an object '{name}' already exists; change it with PATCH /api/meta/objects/{name}",
                      "zh-CN": "对象“{name}”已存在；请用 PATCH /api/meta/objects/{name} 修改它。"},
    "field_exists": {"en": "{object} already has a field '{field}'; change it with PATCH .../fields/{field}",
                     "zh-CN": "{object} 已有字段“{field}”；请用 PATCH .../fields/{field} 修改它。"},
    "customization_may_change": {"en": "{what} is defined by {source}; a customization may change its {allowed}, not its {refused}",
                                 "zh-CN": "{what} 由 {source} 定义；定制只能修改它的 {allowed}，不能修改 {refused}。"},
    "only_custom_objects_removed": {"en": "{object} is defined by {source}; only custom objects can be removed",
                                    "zh-CN": "{object} 由 {source} 定义；只有自定义对象可以删除。"},
    "meta_unknown_field": {"en": "'{field}' is not a field of {object}{hint}", "zh-CN": "“{field}”不是 {object} 的字段{hint}"},
    "meta_unknown_value": {"en": "'{value}' is not a value of {object}.{field}{hint}", "zh-CN": "“{value}”不是 {object}.{field} 的可选值{hint}"},
    "depends_on_itself": {"en": "the picklist '{field}' cannot depend on itself", "zh-CN": "选项字段“{field}”不能依赖它自己。"},
    "depends_on_kind": {"en": "'{field}' of {object} is a {type} field; a dependent picklist follows a picklist or a boolean field",
                        "zh-CN": "{object} 的“{field}”是 {type} 字段；依赖选项字段只能跟随选项字段或布尔字段。"},
    "depends_on_cycle": {"en": "picklists may not depend on each other in a circle: {cycle}", "zh-CN": "选项字段之间不能循环依赖：{cycle}"},
    "no_default_expression_for": {"en": "a {type} field cannot take a default by expression", "zh-CN": "{type} 字段不能使用表达式默认值。"},
    "meta_not_a_picklist": {"en": "'{field}' is not a picklist field of {object}{hint}", "zh-CN": "“{field}”不是 {object} 的选项字段{hint}"},
    "position_from_zero": {"en": "position must be a whole number from 0 (first)", "zh-CN": "position 必须是从 0（第一个）开始的整数。"},
    "picklist_needs_a_value": {"en": "a picklist needs at least one value", "zh-CN": "选项字段至少需要一个值。"},
    "process_field_not_picklist": {"en": "the process field '{field}' is not a picklist field of '{object}'",
                                   "zh-CN": "流程字段“{field}”不是“{object}”的选项字段。"},
    "title_field_unknown": {"en": "title field '{field}' is not a field of '{object}'", "zh-CN": "标题字段“{field}”不是“{object}”的字段。"},
    "display_field_not_text": {"en": "display field '{field}' is not a text field of '{object}'", "zh-CN": "显示字段“{field}”不是“{object}”的文本字段。"},
    "index_unknown_field": {"en": "index names '{field}', which is not a field of '{object}'", "zh-CN": "索引中写了“{field}”，但它不是“{object}”的字段。"},
    "target_not_an_object": {"en": "'{target}' is not an object{hint}", "zh-CN": "“{target}”不是对象{hint}"},
    "object_field_kind": {"en": "'{field}' must be a text or picklist field of '{object}' holding an object name",
                          "zh-CN": "“{field}”必须是“{object}”中存放对象名称的文本或选项字段。"},
    "min_above_max": {"en": "min ({min}) is greater than max ({max})", "zh-CN": "min（{min}）大于 max（{max}）。"},
    "min_exclusive_needs_min": {"en": "min_exclusive needs a min: the value it must be more than", "zh-CN": "min_exclusive 需要一个 min：值必须大于它。"},
    "no_value_between": {"en": "no value is more than min ({min}) and at most max ({max})", "zh-CN": "没有值既大于 min（{min}）又不大于 max（{max}）。"},
    "not_a_text_field": {"en": "'{field}' is not a text field of '{object}'{hint}", "zh-CN": "“{field}”不是“{object}”的文本字段{hint}"},
    "through_type": {"en": "a many-to-many relation cannot carry a {type} field", "zh-CN": "多对多关系不能带有 {type} 字段。"},
    "no_default_for": {"en": "a {type} field cannot have a default", "zh-CN": "{type} 字段不能有默认值。"},
    "no_object": {"en": "there is no object '{name}'{hint}", "zh-CN": "没有对象“{name}”{hint}"},
    "not_a_field_of": {"en": "'{field}' is not a field of '{object}'{hint}", "zh-CN": "“{field}”不是“{object}”的字段{hint}"},
    "kanban_group": {"en": "a kanban groups by a picklist; '{field}' is a {type}", "zh-CN": "看板按选项字段分组；“{field}”是 {type}。"},
    "kanban_sum": {"en": "a kanban sums a number field; '{field}' is a {type}", "zh-CN": "看板对数字字段求和；“{field}”是 {type}。"},
    "gate_defined": {"en": "the stage gate of '{value}' on '{object}' is already defined by {source}; a customization may change it, a plugin may not",
                     "zh-CN": "“{object}”上“{value}”的阶段关卡已由 {source} 定义；定制可以修改它，插件不可以。"},
    "gate_unknown_value": {"en": "'{value}' is not a value of the process field '{object}.{field}'{hint}",
                           "zh-CN": "“{value}”不是流程字段“{object}.{field}”的可选值{hint}"},
    "gate_unknown_field": {"en": "'{field}' is not a field of '{object}'{hint}", "zh-CN": "“{field}”不是“{object}”的字段{hint}"},
    "gate_field_many": {"en": "'{field}' is a {type} field; a stage gate can require only a field that holds one value",
                        "zh-CN": "“{field}”是 {type} 字段；阶段关卡只能要求填写存放单个值的字段。"},
    "gate_unknown_set": {"en": "'{name}' is not a permission set{hint}", "zh-CN": "“{name}”不是权限集{hint}"},
    # stage gates (core/stage_gates.py): a record's move along its process field
    "gate_from": {"en": "{field} can move to {value} only from {allowed}, not from {current}",
                  "zh-CN": "{field}只能从{allowed}改为“{value}”，不能从“{current}”改过去。"},
    "gate_from_none": {"en": "{field} can move to {value} only from {allowed}; set one of those first",
                       "zh-CN": "{field}只能从{allowed}改为“{value}”；请先设为其中之一。"},
    "gate_required": {"en": "{required} must be filled in before {field} can move to {value}",
                      "zh-CN": "{field}改为“{value}”之前，必须先填写{required}。"},
    "gate_emptied": {"en": "{required} cannot be emptied while {field} is {value}", "zh-CN": "{field}为“{value}”时，不能清空{required}。"},
    "gate_entered_by": {"en": "your role may not move {field} to {value}; only {sets} may: ask one of them",
                        "zh-CN": "你的角色不能把{field}改为“{value}”，只有{sets}可以：请找他们处理。"},
    "gate_left_by": {"en": "your role may not move {field} away from {current}; only {sets} may: ask one of them",
                     "zh-CN": "你的角色不能把{field}从“{current}”改为其他值，只有{sets}可以：请找他们处理。"},
    # validation rules (core/validation_rules.py): what a record must hold to be saved
    "vrule_expression": {"en": "validation rule '{name}', column {column}: {problem}",
                         "zh-CN": "校验规则“{name}”第 {column} 列：{problem}"},
    "vrule_unknown_field": {"en": "validation rule '{name}' shows its message at '{field}', which is not a field of '{object}'{hint}",
                            "zh-CN": "校验规则“{name}”把提示显示在“{field}”，但它不是“{object}”的字段{hint}"},
    "vrule_twice": {"en": "validation rule '{name}' is defined twice on '{object}' (first at {first})",
                    "zh-CN": "校验规则“{name}”在“{object}”上定义了两次（第一次在 {first}）。"},
    "vrule_defined": {"en": "validation rule '{name}' of '{object}' is already defined by {source}; a customization may replace or deactivate it, a plugin may not",
                      "zh-CN": "“{object}”的校验规则“{name}”已由 {source} 定义；定制可以替换或停用它，插件不可以。"},
    "vrule_unknown": {"en": "'{object}' has no validation rule '{name}' to change{hint}",
                      "zh-CN": "“{object}”没有名为“{name}”的校验规则可修改{hint}"},
    "vrule_incomplete": {"en": "validation rule '{name}' needs an expression and a message",
                         "zh-CN": "校验规则“{name}”需要表达式和提示信息。"},
    "vrule_unknown_value": {"en": "validation rule '{name}': '{value}' is not a value of the process field '{object}.{field}'{hint}",
                            "zh-CN": "校验规则“{name}”：“{value}”不是流程字段“{object}.{field}”的可选值{hint}"},
    # e-mail templates
    "template_syntax": {"en": "Jinja syntax error at line {line}: {message}", "zh-CN": "Jinja 语法错误（第 {line} 行）：{message}"},
    "template_unknown_variable": {"en": "line {line}: '{name}' is not a variable of an e-mail template; the variables are {known}{hint}",
                                  "zh-CN": "第 {line} 行：“{name}”不是邮件模板的变量，可用的变量有 {known}{hint}"},
    "template_unknown_field": {"en": "line {line}: '{field}' is not a field of '{object}'{hint}",
                               "zh-CN": "第 {line} 行：“{field}”不是“{object}”的字段{hint}"},
    "template_unknown_key": {"en": "line {line}: {variable} has no '{name}'; it has {known}{hint}",
                             "zh-CN": "第 {line} 行：{variable} 没有“{name}”，它有 {known}{hint}"},
    "what_email_template": {"en": "e-mail template", "zh-CN": "邮件模板"},
    "what_automation": {"en": "workflow rule", "zh-CN": "工作流规则"},
    "what_approval_process": {"en": "approval process", "zh-CN": "审批流程"},
    "what_validation_rule": {"en": "validation rule", "zh-CN": "校验规则"},
    "named_defined": {"en": "{what} '{name}' is already defined by {source}; a customization may replace it, a plugin may not",
                      "zh-CN": "{what}“{name}”已由 {source} 定义；定制可以替换它，插件不可以。"},
    "send_named": {"en": "send a {what} as a JSON object: {example}", "zh-CN": "请以 JSON 对象发送{what}：{example}"},
    "named_name_differs": {"en": "the {what}'s name '{name}' is not the one in the address, '{path}'",
                           "zh-CN": "{what}名称“{name}”与地址中的名称“{path}”不一致。"},
    "no_named": {"en": "there is no {what} '{name}'{hint}", "zh-CN": "没有{what}“{name}”{hint}"},
    "no_custom_named": {"en": "{what} '{name}' is defined by {source} and is not customized: there is nothing to remove (replace it with PUT)",
                        "zh-CN": "{what}“{name}”由 {source} 定义，且未被定制，没有可删除的内容（可用 PUT 替换它）。"},
    # conditions and workflow rules
    "condition_previous_here": {"en": "'previous' (the values before an update) can only be tested by rules on updated or field_changed",
                                "zh-CN": "只有“更新时”或“字段变化时”触发的规则才能检查“previous”（更新前的值）。"},
    "condition_null": {"en": "'{key}' cannot be compared with null: use FIELD__isnull", "zh-CN": "“{key}”不能与 null 比较：请使用 FIELD__isnull。"},
    "rule_unknown_field": {"en": "'{field}' is not a field of '{object}'{hint}", "zh-CN": "“{field}”不是“{object}”的字段{hint}"},
    "rule_time_field": {"en": "a time trigger counts from a date or a date-and-time field; '{field}' is {type}",
                        "zh-CN": "时间触发须基于日期或日期时间字段；“{field}”是 {type}。"},
    "rule_cron": {"en": "the cron expression '{cron}' is not valid: {reason}", "zh-CN": "cron 表达式“{cron}”无效：{reason}"},
    "rule_trigger_key": {"en": "'{key}' has no meaning for a rule on {on}", "zh-CN": "“{key}”对“{on}”触发的规则没有意义。"},
    "rule_before_save_trigger": {"en": "a rule on {on} cannot run before the save: only {triggers} can",
                                 "zh-CN": "“{on}”触发的规则不能在保存前运行：只有 {triggers} 可以。"},
    "rule_before_save_action": {"en": "a rule that runs before the save can only {allowed}, not {type}",
                                "zh-CN": "保存前运行的规则只能执行 {allowed}，不能执行 {type}。"},
    "rule_refuse_after": {"en": "only a rule that runs before the save (before_save: true) can refuse it",
                          "zh-CN": "只有保存前运行的规则（before_save: true）才能拒绝保存。"},
    "rule_assign_user": {"en": "assigning to one user needs 'user' (a login)", "zh-CN": "分配给指定用户需要提供“user”（登录名）。"},
    "rule_assign_candidates": {"en": "{strategy} needs a 'team' or 'users' to choose among", "zh-CN": "{strategy} 需要提供可选的“team”或“users”。"},
    "rule_no_template": {"en": "there is no e-mail template '{name}'{hint}", "zh-CN": "没有邮件模板“{name}”{hint}"},
    "rule_template_object": {"en": "e-mail template '{name}' is about {object}, and this rule about {rule_object}",
                             "zh-CN": "邮件模板“{name}”用于 {object}，而此规则用于 {rule_object}。"},
    "rule_no_process": {"en": "there is no approval process '{name}'{hint}", "zh-CN": "没有审批流程“{name}”{hint}"},
    "rule_process_object": {"en": "approval process '{name}' is for {object}, and this rule for {rule_object}",
                            "zh-CN": "审批流程“{name}”用于 {object}，而此规则用于 {rule_object}。"},
    "rule_recipient_field": {"en": "'{field}' is neither a lookup to a user nor an e-mail field", "zh-CN": "“{field}”既不是指向用户的查找字段，也不是电子邮件字段。"},
    "rule_system_field": {"en": "'{field}' is kept by Tessera and cannot be set", "zh-CN": "“{field}”由系统维护，不能设置。"},
    "rule_read_only": {"en": "'{field}' is read-only", "zh-CN": "“{field}”是只读字段。"},
    "rule_dynamic_type": {"en": "{key} gives a date or a time, and '{field}' is {type}", "zh-CN": "{key} 给出日期或时间，而“{field}”是 {type}。"},
    "rule_offset": {"en": "'{value}' is not an offset: write +2d, -3h or 30m", "zh-CN": "“{value}”不是时间偏移：请写作 +2d、-3h 或 30m。"},
    "rule_record_link": {"en": "'{field}' cannot link to the {object} record: it is not a lookup to {object}",
                         "zh-CN": "“{field}”不能链接到该 {object} 记录：它不是指向 {object} 的查找字段。"},
    "rule_user_link": {"en": "'{field}' is not a lookup to a user", "zh-CN": "“{field}”不是指向用户的查找字段。"},
    "rule_value": {"en": "not a value '{field}' can take: {reason}", "zh-CN": "不是“{field}”可接受的值：{reason}"},
    "rule_unknown_user": {"en": "there is no active user '{name}'{hint}", "zh-CN": "没有在职用户“{name}”{hint}"},
    "rule_unknown_team": {"en": "there is no team '{name}'{hint}", "zh-CN": "没有团队“{name}”{hint}"},
    "rule_unknown_role": {"en": "there is no role '{name}'{hint}", "zh-CN": "没有角色“{name}”{hint}"},
    "rule_unknown_action": {"en": "no plugin registers the action '{name}'{hint}", "zh-CN": "没有插件注册动作“{name}”{hint}"},
    "rule_notice": {"en": "{text}", "zh-CN": "{text}"},  # a rule's own message: text, as its author wrote it in each language
    "rule_refusal": {"en": "{text}", "zh-CN": "{text}"},
    "rule_depth": {"en": "not run: the changes of rules had already set off {depth} rules in a row", "zh-CN": "未运行：规则引起的更改已连续触发 {depth} 层规则。"},
    # expressions (core/expressions/): formulas, validation rules, conditions
    "expression_problem": {"en": "{where}: {problem}", "zh-CN": "{where}：{problem}"},
    "expression_at": {"en": "column {column}", "zh-CN": "第 {column} 列"},
    "expression_at_line": {"en": "line {line}, column {column}", "zh-CN": "第 {line} 行第 {column} 列"},
    "syntax_empty": {"en": "the expression is empty", "zh-CN": "表达式为空。"},
    "syntax_character": {"en": "'{char}' cannot appear here", "zh-CN": "此处不能出现“{char}”。"},
    "syntax_open_text": {"en": "a text is opened with a quote and not closed", "zh-CN": "文本以引号开始，但没有结束的引号。"},
    "syntax_end": {"en": "the expression ends too early{expected}", "zh-CN": "表达式过早结束{expected}"},
    "syntax_token": {"en": "'{token}' is not expected here{expected}", "zh-CN": "此处不应出现“{token}”{expected}"},
    "syntax_expected": {"en": "; expected {things}", "zh-CN": "；此处应为 {things}"},
    "syntax_field_or_function": {"en": "a field or a function", "zh-CN": "字段或函数"},
    "syntax_number": {"en": "a number", "zh-CN": "数字"},
    "syntax_text": {"en": "a text in quotes", "zh-CN": "带引号的文本"},
    "syntax_close": {"en": "')'", "zh-CN": "“)”"},
    "syntax_open": {"en": "'('", "zh-CN": "“(”"},
    "syntax_comma": {"en": "','", "zh-CN": "“,”"},
    "type_number": {"en": "a number", "zh-CN": "数字"},
    "type_text": {"en": "a text", "zh-CN": "文本"},
    "type_date": {"en": "a date", "zh-CN": "日期"},
    "type_datetime": {"en": "a date and time", "zh-CN": "日期时间"},
    "type_boolean": {"en": "a condition (true or false)", "zh-CN": "条件（真或假）"},
    "type_null": {"en": "blank (NULL)", "zh-CN": "空值（NULL）"},
    "types_or": {"en": "{first} or {second}", "zh-CN": "{first}或{second}"},
    "expr_unknown_field": {"en": "'{name}' is not a field of {object}{hint}", "zh-CN": "“{name}”不是 {object} 的字段{hint}"},
    "expr_unknown_function": {"en": "'{name}' is not a function{hint}", "zh-CN": "“{name}”不是函数{hint}"},
    "expr_field_unusable": {"en": "'{name}' is a {type} field, which an expression cannot read", "zh-CN": "“{name}”是 {type} 字段，表达式不能读取。"},
    "expr_not_lookup": {"en": "'{name}' is not a lookup: no field follows it after a dot", "zh-CN": "“{name}”不是查找字段：其后不能用点接字段。"},
    "expr_dynamic_lookup": {"en": "'{name}' may point to records of several objects, so it cannot be followed", "zh-CN": "“{name}”可能指向多个对象的记录，因此不能沿它取字段。"},
    "expr_too_deep": {"en": "a path names at most {limit} fields ({example}); this one names {count}", "zh-CN": "路径最多包含 {limit} 个字段（{example}）；此处包含 {count} 个。"},
    "expr_arg_count": {"en": "{function} takes {expected}; got {count}", "zh-CN": "{function} 需要 {expected}；收到 {count} 个。"},
    "expr_args_exactly": {"en": "{count} argument(s)", "zh-CN": "{count} 个参数"},
    "expr_args_between": {"en": "{low} to {high} arguments", "zh-CN": "{low} 到 {high} 个参数"},
    "expr_args_at_least": {"en": "at least {low} argument(s)", "zh-CN": "至少 {low} 个参数"},
    "expr_args_case": {"en": "an even number of arguments, at least 4: the value, then pairs of a match and its result, then the result otherwise",
                       "zh-CN": "偶数个参数，至少 4 个：先是要比较的值，然后是成对的匹配值和结果，最后是其他情况的结果"},
    "expr_arg_type": {"en": "argument {position} of {function} must be {expected}; it is {actual}", "zh-CN": "{function} 的第 {position} 个参数必须是{expected}；此处是{actual}。"},
    "expr_operand_type": {"en": "'{operator}' needs {expected} on each side; this is {actual}{advice}", "zh-CN": "“{operator}”两边必须是{expected}；此处是{actual}{advice}"},
    "expr_advice_dates": {"en": " (use ADD_DAYS or DAYS_BETWEEN for dates)", "zh-CN": "（日期请用 ADD_DAYS 或 DAYS_BETWEEN）"},
    "expr_advice_text": {"en": " (turn a value into text with TEXT(...))", "zh-CN": "（用 TEXT(...) 把值转为文本）"},
    "expr_compare_types": {"en": "cannot compare {left} with {right}", "zh-CN": "不能把{left}与{right}比较。"},
    "expr_compare_order": {"en": "'{operator}' cannot order {type}; use = or !=", "zh-CN": "“{operator}”不能比较{type}的大小；请用 = 或 !=。"},
    "expr_compare_null": {"en": "a comparison with NULL is always blank; test with ISBLANK(...)", "zh-CN": "与 NULL 比较的结果总是空值；请用 ISBLANK(...) 判断。"},
    "expr_same_type": {"en": "the results of {function} must be of one type; here {first} and {second}", "zh-CN": "{function} 的各个结果必须是同一类型；此处有{first}和{second}。"},
    "expr_not_picklist": {"en": "ISPICKVAL tests a picklist field; '{name}' is {type}", "zh-CN": "ISPICKVAL 用于选项字段；“{name}”是 {type}。"},
    "expr_pickval_literal": {"en": "ISPICKVAL's second argument is one of the picklist's values, written in quotes", "zh-CN": "ISPICKVAL 的第二个参数是该选项字段的一个值，用引号书写。"},
    "expr_not_a_value": {"en": "'{value}' is not a value of {field}: {values}{hint}", "zh-CN": "“{value}”不是 {field} 的可选值：{values}{hint}"},
    "expr_round_digits": {"en": "ROUND's digits are a whole number from {low} to {high}, written out", "zh-CN": "ROUND 的位数必须直接写成 {low} 到 {high} 之间的整数。"},
    "expr_result_type": {"en": "the expression gives {actual}; {expected} is needed here", "zh-CN": "表达式的结果是{actual}；此处需要{expected}。"},
    "condition_expression_here": {"en": "an expression cannot be used in this condition", "zh-CN": "此条件中不能使用表达式。"},
    "condition_expression_text": {"en": "an expression is a text in the formula language, such as \"amount > 1000\"", "zh-CN": "表达式是公式语言写的文本，例如 \"amount > 1000\"。"},
    "expr_too_nested": {"en": "the expression nests more than {limit} levels deep (brackets, operators and functions within each other); split it into formula fields that use each other", "zh-CN": "表达式嵌套超过 {limit} 层（括号、运算符与函数层层相套）；请拆分为相互引用的多个公式字段。"},
    "formula_beyond_database": {"en": "the database cannot compute this expression ({reason}); make it simpler, or split it into formula fields that use each other", "zh-CN": "数据库无法计算此表达式（{reason}）；请简化，或拆分为相互引用的多个公式字段。"},
    # reports (core/reports/)
    "what_report": {"en": "report", "zh-CN": "报表"},
    "report_no_object": {"en": "there is no object '{object}'{hint}", "zh-CN": "没有对象“{object}”{hint}"},
    "report_path_long": {"en": "'{path}' follows more than {most} lookups", "zh-CN": "“{path}”经过的查找字段超过 {most} 个。"},
    "report_no_field": {"en": "{object} has no field '{field}'{hint}", "zh-CN": "{object} 没有字段“{field}”{hint}"},
    "report_not_lookup": {"en": "'{field}' of {object} is not a lookup: a path can only follow lookups", "zh-CN": "{object} 的“{field}”不是查找字段：路径只能经过查找字段。"},
    "report_field_unusable": {"en": "'{field}' holds several values or a document: a report cannot group or measure it", "zh-CN": "“{field}”包含多个值或文档：报表不能按它分组或统计。"},
    "report_bucket_not_date": {"en": "'{field}' is not a date or time: only dates are grouped by day, week, month, quarter or year", "zh-CN": "“{field}”不是日期或时间：只有日期才能按日、周、月、季度或年分组。"},
    "report_measure_needs_field": {"en": "{aggregate} needs a field", "zh-CN": "{aggregate} 需要指定字段。"},
    "report_aggregate_misfit": {"en": "{aggregate} does not fit '{field}', a {type} field: sums and averages take numbers, smallest and largest numbers or dates", "zh-CN": "{aggregate} 不适用于 {type} 类型的字段“{field}”：合计和平均值只用于数字，最小值和最大值只用于数字或日期。"},
    "report_summary_groups": {"en": "a summary report needs at least one grouping", "zh-CN": "汇总报表至少需要一个分组。"},
    "report_matrix_groups": {"en": "a matrix report needs two or three groupings: the rows, then the columns", "zh-CN": "矩阵报表需要两个或三个分组：先是行，再是列。"},
    "report_tabular_columns": {"en": "a tabular report needs its columns", "zh-CN": "列表报表需要指定列。"},
    "report_columns_tabular_only": {"en": "only a tabular report has columns; a summary shows its groupings and measures", "zh-CN": "只有列表报表有列；汇总报表显示分组和统计值。"},
    "report_period_not_date": {"en": "'{field}' is not a date or time: a period needs one", "zh-CN": "“{field}”不是日期或时间：期间需要日期字段。"},
    "report_period_range": {"en": "'{range}' is not a period: use this_month, last_quarter, last_90_days, next_30_days, all_time and the like", "zh-CN": "“{range}”不是有效期间：请使用 this_month、last_quarter、last_90_days、next_30_days、all_time 等。"},
    "report_sort_unknown": {"en": "'{key}' is not one of the report's keys ({keys}){hint}", "zh-CN": "“{key}”不是报表的键（{keys}）{hint}"},
    "report_missing": {"en": "there is no report '{name}' you may run{hint}", "zh-CN": "没有你可以运行的报表“{name}”{hint}"},
    "report_object_hidden": {"en": "your role may not read {object}, the records this report counts", "zh-CN": "你的角色无权读取此报表统计的 {object} 记录。"},
    "report_field_hidden": {"en": "your role may not see '{path}', which this report reads", "zh-CN": "你的角色无权查看此报表读取的“{path}”。"},
    "what_dashboard": {"en": "dashboard", "zh-CN": "仪表板"},
    "dashboard_no_report": {"en": "there is no report '{name}'{hint}", "zh-CN": "没有报表“{name}”{hint}"},
    "dashboard_no_role": {"en": "there is no role (permission set) '{name}'{hint}", "zh-CN": "没有角色（权限集）“{name}”{hint}"},
    "dashboard_missing": {"en": "there is no dashboard '{name}' you may see{hint}", "zh-CN": "没有你可以查看的仪表板“{name}”{hint}"},
    "dashboard_tile_hidden": {"en": "not shown: {reason}", "zh-CN": "未显示：{reason}"},
    "dashboard_no_widget": {"en": "no plugin provides the widget '{name}'", "zh-CN": "没有插件提供组件“{name}”。"},
    "dashboard_widget_failed": {"en": "the widget failed; the server's log tells why", "zh-CN": "组件出错；原因见服务器日志。"},
    "dashboard_bad_owner": {"en": "'{value}' is not a user's id", "zh-CN": "“{value}”不是用户编号。"},
    "dashboard_no_team": {"en": "there is no team '{value}'", "zh-CN": "没有团队“{value}”。"},
    "report_history_field": {"en": "'{field}' is not the process field of {object} ({process}): only its stage intervals are kept", "zh-CN": "“{field}”不是 {object} 的流程字段（{process}）：只保留流程字段的阶段区间。"},
    "report_steps_no_group": {"en": "steps are values of the first grouping, and the report has none", "zh-CN": "步骤是第一个分组的值，而此报表没有分组。"},
    "report_step_unknown": {"en": "'{value}' is not a value of {field}{hint}", "zh-CN": "“{value}”不是 {field} 的值{hint}"},
    "report_cell_value": {"en": "'{value}' is not a value of the grouping {key}", "zh-CN": "“{value}”不是分组 {key} 的值。"},
    "report_no_period": {"en": "the report {name} has no period to change", "zh-CN": "报表 {name} 没有可更改的期间。"},
    "condition_formula_field": {"en": "'{field}' is a formula: test it in an expression, such as {{\"expression\": \"{field} > 100\"}}", "zh-CN": "“{field}”是公式字段：请在表达式中判断，例如 {{\"expression\": \"{field} > 100\"}}"},
    "formula_cycle": {"en": "formulas may not use each other in a circle: {cycle}", "zh-CN": "公式之间不能循环引用：{cycle}"},
    "formula_read_only": {"en": "is computed by its formula: it cannot be set", "zh-CN": "由公式计算：不能设置。"},
    "rollup_read_only": {"en": "is kept by its roll-up of other records: it cannot be set", "zh-CN": "由其他记录汇总得出：不能设置。"},
    "rollup_unknown_object": {"en": "'{name}' is not an object{hint}", "zh-CN": "“{name}”不是对象{hint}"},
    "rollup_not_a_lookup": {"en": "'{name}' is not a lookup of {child} to {parent}{hint}", "zh-CN": "“{name}”不是 {child} 指向 {parent} 的查找字段{hint}"},
    "rollup_unknown_field": {"en": "'{name}' is not a field of {child} a roll-up can read{hint}", "zh-CN": "“{name}”不是 {child} 中可汇总的字段{hint}"},
    "rollup_needs_number": {"en": "{aggregate} needs a number field; '{name}' is a {type} field", "zh-CN": "{aggregate} 需要数字字段；“{name}”是 {type} 字段。"},
    "rollup_needs_ordered": {"en": "{aggregate} needs a number or date field; '{name}' is a {type} field", "zh-CN": "{aggregate} 需要数字或日期字段；“{name}”是 {type} 字段。"},
    # sign-in and accounts
    "wrong_password": {"en": "wrong username or password", "zh-CN": "用户名或密码错误。"},
    "too_many_attempts": {"en": "too many failed sign-ins; try again in {seconds} seconds", "zh-CN": "登录失败次数过多；请在 {seconds} 秒后重试。"},
    "password_short": {"en": "the password is too short: use at least {limit} characters", "zh-CN": "密码太短：请至少使用 {limit} 个字符。"},
    "password_is_username": {"en": "the password must not be the username", "zh-CN": "密码不能与用户名相同。"},
    "user_exists": {"en": "a user named '{username}' already exists", "zh-CN": "名为“{username}”的用户已存在。"},
    # approvals (core/approvals/service.py): refusals and notifications
    "approval_locked": {"en": "this record awaits approval in {process} since {since}: it cannot be changed until the approval is decided or recalled",
                        "zh-CN": "此记录自 {since} 起在“{process}”中等待审批：审批完成或撤回之前不能修改。"},
    "approval_pending_already": {"en": "this record already awaits approval in {process} since {since}",
                                 "zh-CN": "此记录自 {since} 起已在“{process}”中等待审批。"},
    "approval_no_process": {"en": "no approval process applies to this record now: no active process of {object} has its entry condition met",
                            "zh-CN": "当前没有适用于此记录的审批流程：{object} 的启用流程的进入条件均不满足。"},
    "approval_unknown_process": {"en": "there is no active approval process '{name}' for {object}{hint}",
                                 "zh-CN": "{object} 没有启用的审批流程“{name}”{hint}"},
    "approval_entry_not_met": {"en": "this record does not meet the entry condition of {process}, so it cannot be submitted to it",
                               "zh-CN": "此记录不满足“{process}”的进入条件，不能提交该审批。"},
    "approval_may_not_submit": {"en": "you may not submit this record for approval: your role may not change it",
                                "zh-CN": "你不能提交此记录审批：你的角色无权修改它。"},
    "approval_no_approvers": {"en": "nobody can approve the step {step} of {process}: its approvers name no active user other than you",
                              "zh-CN": "没有人能审批“{process}”的步骤“{step}”：其审批人中没有除你之外的在职用户。"},
    "approval_none_pending": {"en": "this record is not awaiting approval", "zh-CN": "此记录没有在等待审批。"},
    "approval_own_request": {"en": "you submitted this record for approval and may not decide on it yourself",
                             "zh-CN": "此记录由你提交审批，你不能自己审批。"},
    "approval_not_approver": {"en": "you are not an approver of the current step ({step}) of {process}",
                              "zh-CN": "你不是“{process}”当前步骤（{step}）的审批人。"},
    "approval_decided_already": {"en": "you have already decided on this step; the other approvers have yet to",
                                 "zh-CN": "你已审批过此步骤，尚待其他审批人审批。"},
    "approval_recall_submitter": {"en": "only the person who submitted it ({submitter}) or an administrator may recall it",
                                  "zh-CN": "只有提交人（{submitter}）或管理员可以撤回。"},
    "notice_approval_asked": {"en": "{submitter} asks you to approve “{title}” ({process})", "zh-CN": "{submitter} 请你审批“{title}”（{process}）"},
    "notice_approval_approved": {"en": "{actor} approved “{title}” ({process})", "zh-CN": "{actor} 已批准“{title}”（{process}）"},
    "notice_approval_rejected": {"en": "{actor} rejected “{title}” ({process}): {comment}", "zh-CN": "{actor} 已驳回“{title}”（{process}）：{comment}"},
    "notice_approval_recalled": {"en": "{actor} recalled “{title}” ({process}) from approval", "zh-CN": "{actor} 已撤回“{title}”（{process}）的审批"},
    # notifications (core/notifications.py): kept as codes, read in the reader's language
    "notice_mention": {"en": "{actor} mentioned you on {title}: “{subject}”", "zh-CN": "{actor} 在“{title}”中提到了你：“{subject}”"},
    "notification_missing": {"en": "there is no notification {id} of yours (GET /api/notifications lists them)",
                             "zh-CN": "你没有编号为 {id} 的通知（GET /api/notifications 列出你的通知）。"},
    "notice_mention_plain": {"en": "{actor} mentioned you in “{subject}”", "zh-CN": "{actor} 在“{subject}”中提到了你"},
    # notifications by e-mail (core/notification_mail.py)
    "notification_open": {"en": "Open it in Tessera: {link}", "zh-CN": "在 Tessera 中打开：{link}"},
    "notification_mail_footer": {"en": "You get these e-mails because of your choice on your profile page in Tessera; change it there.",
                                 "zh-CN": "你收到这些邮件，是因为你在 Tessera 个人资料页上的选择；可在那里更改。"},
    "digest_subject": {"en": "Your Tessera notifications of the past day: {count}", "zh-CN": "你过去一天的 Tessera 通知：{count} 条"},
    "notice_task_overdue": {"en": "Your task “{subject}” was due on {due} and is not done yet",
                            "zh-CN": "你的任务“{subject}”已于 {due} 到期，尚未完成"},
}


@dataclass(frozen=True)
class Sentence:
    """A problem as its code and the values it names; reads as English (``str``), ``in_`` another language.

    ``words``: the wording, when not core's (a plugin's, from ``tessera_words``); a wording that lacks the
    language falls back to English, and one without a known code to ``text`` (a plugin's plain English).
    """

    code: str
    params: dict = field(default_factory=dict)
    words: Mapping[str, str] | None = None
    text: str = ""

    def in_(self, lang: str) -> str:
        words = self.words or WORDS.get(self.code)
        if not words:
            return self.text
        template = words.get(lang) or words.get("en") or self.text
        return template.format(**self.params_in(lang))

    def params_in(self, lang: str) -> dict:
        """The params, a Sentence among them (a hint, a nested problem) said in ``lang``, and a text given in each
        language (``{"en": ..., "zh-CN": ...}``, as metadata writes a rule's message) in ``lang`` (else English)."""
        return {k: v.in_(lang) if isinstance(v, Sentence) else _in_language(v, lang) for k, v in self.params.items()}

    def __str__(self) -> str:
        return self.in_("en")


@dataclass(frozen=True)
class Several(Sentence):
    """Several sentences said as one, joined as ``listed`` joins them ("; " in English, "；" in Chinese)."""

    parts: tuple = ()

    def in_(self, lang: str) -> str:
        return listed((say(part, lang) for part in self.parts), lang)


def _in_language(value: Any, lang: str) -> Any:
    if isinstance(value, Mapping) and "en" in value and set(value) <= {"en", "zh-CN"}:
        return value.get(lang) or value["en"]
    return value


def sentence(code: str, **params: Any) -> Sentence:
    """One of core's sentences (a code of WORDS) with the values it names."""
    if code not in WORDS:
        raise KeyError(f"no wording for {code!r}")
    return Sentence(code, params)


class WordedError(ValueError):
    """A value refused with one of core's sentences (``str`` gives the English)."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(sentence(code, **params))


def sentence_of(problem: Any) -> Sentence | None:
    """The Sentence a problem carries: itself, or an exception's first argument; None for plain text."""
    if isinstance(problem, Sentence):
        return problem
    args = getattr(problem, "args", None)
    return args[0] if isinstance(problem, BaseException) and args and isinstance(args[0], Sentence) else None


def say(problem: Any, lang: str) -> str:
    """A problem (a Sentence, an exception raised with one, or plain text) in ``lang``, else in English."""
    found = sentence_of(problem)
    return found.in_(lang) if found is not None else str(problem)


def code_and_params(problem: Any, lang: str = "en") -> dict:
    """``{"code": ..., "params": ...}`` of a problem, for the API's answers ("invalid" for plain text)."""
    found = sentence_of(problem)
    return {"code": found.code, "params": found.params_in(lang)} if found is not None else {"code": "invalid", "params": {}}


def hint(word: str, choices: Iterable[str]) -> Sentence | str:
    """" (did you mean 'x'?)" for the closest of ``choices``, or "" when none is close."""
    matches = get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return Sentence("did_you_mean", {"name": matches[0]}) if matches else ""


def labelled(name: str, text: str, lang: str) -> str:
    """A problem after what it is about: "limit: ..." in English, "limit：..." in Chinese."""
    return f"{name}：{text}" if lang == "zh-CN" else f"{name}: {text}"


def listed(parts: Iterable[str], lang: str) -> str:
    """Several problems as one sentence: joined by "; " in English, by "；" in Chinese (ending with one "。")."""
    if lang != "zh-CN":
        return "; ".join(parts)
    return "；".join(part.rstrip("。") for part in parts) + "。"


def negotiate(user_language: str | None, accept_language: str) -> str:
    """The reader's language: the user's own (their ``language`` field), else the first of en or zh-* the
    Accept-Language header names, else English."""
    if user_language in USER_LANGUAGE:
        return USER_LANGUAGE[user_language]
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "en"
