"""The ``scw`` CLI's config file as a settings source (the CLI and local runs; never the functions).

``SCW_CONFIG_PATH``, else ``$XDG_CONFIG_HOME/scw/config.yaml``, else ``~/.config/scw/config.yaml``;
root keys overlaid by the profile ``SCW_PROFILE`` (or the file's ``active_profile``) names. A
missing profile or a file that is not YAML is a ``ConfigurationError``, as with the scw CLI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

from shared.errors import ConfigurationError

# scw config keys -> our field names
_SCW_FILE_KEYS = {
    "access_key": "scw_access_key",
    "secret_key": "scw_secret_key",
    "api_url": "scw_api_url",
    "default_organization_id": "scw_default_organization_id",
    "default_project_id": "scw_default_project_id",
    "default_region": "scw_default_region",
}


def scw_config_path(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("SCW_CONFIG_PATH"):
        return Path(env["SCW_CONFIG_PATH"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "scw" / "config.yaml"


def read_scw_config(path: Path, profile: str | None) -> dict[str, Any]:
    """Flatten the scw config file: root keys, overlaid by the chosen profile's keys."""
    if not path.is_file():
        return {}
    import yaml  # lazy: most invocations never read the file

    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        raise ConfigurationError(f"the scw config file {path} is not readable YAML") from None
    if not isinstance(raw, dict):
        raise ConfigurationError(f"the scw config file {path} is not a YAML mapping")
    values = {k: raw[k] for k in _SCW_FILE_KEYS if raw.get(k) is not None}
    name = profile or raw.get("active_profile")
    if name and name != "default":
        profiles = raw.get("profiles") or {}
        if not isinstance(profiles, dict) or name not in profiles:  # as the scw CLI does: an error, not a fallback
            raise ConfigurationError(f"profile {name!r} is not in the scw config file {path}")
        chosen = profiles[name] or {}
        values.update({k: chosen[k] for k in _SCW_FILE_KEYS if isinstance(chosen, dict) and chosen.get(k) is not None})
    return {_SCW_FILE_KEYS[k]: str(v) for k, v in values.items()}


class ScwConfigFileSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        # Explicit values and the environment (earlier sources) choose the file and profile.
        state = self.current_state
        environ = dict(os.environ)
        if state.get("scw_config_path"):
            environ["SCW_CONFIG_PATH"] = str(state["scw_config_path"])
        profile = state.get("scw_profile") or os.environ.get("SCW_PROFILE")
        return read_scw_config(scw_config_path(environ), profile)
