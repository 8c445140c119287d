"""intake: the rules every input obeys before any package acts on it.

A leaf package (it imports nothing of the project, so every package may use it, the
orchestrator and faults included): YAML read safely and bounded (:func:`load_yaml`), plain JSON
values held to finite, bounded data (:func:`check_json_value`, :data:`JsonValue`,
:data:`JsonObject`), and the one formatter of a pydantic ``ValidationError`` in the project's
error style (:func:`describe_validation_error`). Errors are :class:`InputError`.
"""

from ._describe import describe_validation_error, field_path
from ._errors import InputError
from ._json_values import MAX_DEPTH, MAX_JSON_BYTES, JsonObject, JsonValue, check_json_value
from ._yaml import MAX_NODES, MAX_YAML_BYTES, load_yaml, read_input_text, read_yaml_file

__all__ = [
    "InputError",
    "JsonObject",
    "JsonValue",
    "MAX_DEPTH",
    "MAX_JSON_BYTES",
    "MAX_NODES",
    "MAX_YAML_BYTES",
    "check_json_value",
    "describe_validation_error",
    "field_path",
    "load_yaml",
    "read_input_text",
    "read_yaml_file",
]
