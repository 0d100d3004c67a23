"""Every file and directory a setting names, checked when a service starts: a missing, unreadable or
malformed one stops it at once with a message naming the setting (``PASSERELLE_…``) and the path,
rather than at the first event that needs it.

Which paths: every ``Path`` setting that is set, nested ones included. This NCP's signing keys must be
EC P-256 PEM private keys, key sets (``*jwks_file``) JSON Web Key Sets. ``state_dir`` must be
writable (it is created); ``released_schemas_dir`` is only read by the release step and skipped.
"""

from __future__ import annotations

import os
import typing
from pathlib import Path

from pydantic import BaseModel, ValidationError

from passerelle.keys import KeyFileError, load_private_key, read_key_set
from passerelle.settings import Settings

#: Directories among the path settings (the others are files).
DIRECTORIES = {"schemas_dir", "catalogue_dir", "ncp_data", "dmp_data", "state_dir"}
#: This NCP's own ES256 keys (the OpenID Connect client key may be RSA: only its presence is checked).
ES256_KEYS = {"signing_key_file", "confirmation_key_file", "portal_session_key_file"}
#: Read by a release step, not by a running service.
NOT_AT_START = {"released_schemas_dir"}


class FileSettingError(SystemExit):
    """A service cannot start: the message lists each unusable setting."""


def load_settings(service: str) -> Settings:
    """The settings from the environment; a value that is not valid stops the service with one line
    per setting, naming its variable (``PASSERELLE_KAFKA__SECURITY_PROTOCOL=TLS: …``)."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = [invalid_setting(error) for error in exc.errors()]
        raise FileSettingError(f"{service} cannot start; fix these settings:\n  " + "\n  ".join(lines)) from None


def invalid_setting(error: dict) -> str:
    """One line of a settings error: the variable, its value unless it may be secret, the problem."""
    variable = "PASSERELLE_" + "__".join(str(part).upper() for part in error["loc"])
    value = os.environ.get(variable)
    secret = any(word in variable for word in ("PASSWORD", "SECRET"))
    shown = f"={value}" if value is not None and not secret else ""
    return f"{variable}{shown}: {error['msg']}"


def path_settings(model: BaseModel, prefix: str = "PASSERELLE_") -> dict[str, tuple[str, Path]]:
    """Environment variable → (field name, path) of every ``Path`` setting that is set."""
    found: dict[str, tuple[str, Path]] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        variable = f"{prefix}{name.upper()}"
        if isinstance(value, BaseModel):
            found.update(path_settings(value, f"{variable}__"))
        elif isinstance(value, Path) and name not in NOT_AT_START:
            found[variable] = (name, value)
    return found


def path_variables(model: type[BaseModel], prefix: str = "PASSERELLE_") -> set[str]:
    """The environment variable of every ``Path`` setting, set or not."""
    found = set()
    for name, field in model.model_fields.items():
        variable, annotation = f"{prefix}{name.upper()}", field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found |= path_variables(annotation, f"{variable}__")
        elif annotation is Path or Path in typing.get_args(annotation):
            found.add(variable)
    return found


def problem(variable: str, name: str, path: Path) -> str | None:
    """Why ``path`` cannot serve as setting ``name`` (None: it can)."""
    if name == "state_dir":
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"{variable}={path}: cannot be created ({exc.strerror})"
        return None if os.access(path, os.W_OK | os.X_OK) else f"{variable}={path}: not writable"
    if name in DIRECTORIES:
        if not path.is_dir():
            return f"{variable}={path}: no such directory"
        return None if os.access(path, os.R_OK | os.X_OK) else f"{variable}={path}: not readable"
    if not path.is_file():
        return f"{variable}={path}: no such file"
    if not os.access(path, os.R_OK):
        return f"{variable}={path}: not readable"
    try:
        if name.endswith("jwks_file"):
            read_key_set(path, variable)
        elif name in ES256_KEYS:
            load_private_key(path, variable)
    except KeyFileError as exc:
        return str(exc)
    return None


def check_file_settings(settings: BaseModel, service: str) -> None:
    """Raise ``FileSettingError`` (exits with its message) when any path setting is unusable."""
    problems = [p for variable, (name, path) in path_settings(settings).items()
                if (p := problem(variable, name, path))]
    if problems:
        raise FileSettingError(f"{service} cannot start; fix these settings:\n  " + "\n  ".join(problems))
