"""The recipe's typed-config machinery lives in ``detector.typed_config`` (the service's config uses it too,
without torch); re-exported here for the trainer."""

from detector.typed_config import ConfigError, apply_overrides, from_dict, load_yaml, merge_sections

__all__ = ["ConfigError", "apply_overrides", "from_dict", "load_yaml", "merge_sections"]
