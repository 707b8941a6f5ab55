"""The layered configuration loader: base.json ← <ATHENA_ENV>.json ← local.json ← environment / .env.

Owns: finding and reading the layers, checking each JSON layer on its own (so an error names its
file), the deep merge, the final validation, and turning pydantic's errors into one
``ConfigError`` line that names the file (or variable), the dotted key, the bad value and what
was expected. Environment variables and ``.env`` are read by pydantic-settings.
Never: prints, logs or puts a secret into an error message; writes any file.

Layers, lowest priority first:
  1. ``config/base.json``
  2. ``config/<env>.json`` — env from the ``env`` argument, else ``ATHENA_ENV``, else development
  3. ``config/local.json`` (gitignored; optional)
  4. extra files given by the caller (``--config FILE``)
  5. environment and ``<root>/.env``: ``ATHENA_<KEY>`` with ``__`` between nested keys
     (``ATHENA_CAPITAL__TOTAL_USDT=5000``; ``ATHENA_SYMBOLS`` as a comma list or JSON list), and
     ``OKX_API_KEY`` / ``OKX_API_SECRET`` / ``OKX_API_PASSPHRASE``
  6. ``overrides`` (command-line options)
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, create_model
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from athena.config.models import AthenaConfig, Environment
from athena.core.logs import register_secret
from athena.errors import ConfigError

ENV_PREFIX = "ATHENA_"
ENV_DELIMITER = "__"
_SECRET_NAMES = frozenset({"api_key", "api_secret", "api_passphrase"})
_MAX_ERRORS = 5  # one line stays readable; the rest are counted


@dataclass(frozen=True, slots=True)
class _Layer:
    """One source of settings: its data and how to name a key of it in an error."""

    data: dict[str, Any]
    name: Callable[[tuple[str | int, ...]], str]


# ---- all-optional copies of the models -----------------------------------------------------


@functools.cache
def partial_model(model: type[BaseModel]) -> type[BaseModel]:
    """A copy of ``model`` whose every field is optional (default None), nested models too.

    Field constraints and annotation validators are kept, so one layer is checked value by value;
    cross-field rules (model validators) run only on the merged whole.
    """
    fields: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        info = copy.copy(field)
        info.default = None
        info.default_factory = None
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            annotation = partial_model(annotation)
        fields[name] = (annotation | None, info)
    return create_model(f"Partial{model.__name__}", __config__=ConfigDict(extra="forbid"), **fields)


class _EnvOnly(BaseSettings):
    """A settings class that reads the process environment, then ``.env``, and nothing else."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, dotenv_settings)


class _EnvironmentBase(_EnvOnly):
    """ATHENA_* variables: prefix ATHENA_, ``__`` between nested keys, unknown names ignored."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        case_sensitive=False,
        env_ignore_empty=True,
        extra="ignore",
    )


@functools.cache
def _environment_model() -> type[BaseSettings]:
    fields: dict[str, Any] = {}
    for name, field in partial_model(AthenaConfig).model_fields.items():
        annotation = field.annotation
        if name == "symbols":
            # a comma list is not JSON: let the field's own validator split it
            annotation = Annotated[annotation, NoDecode]
        fields[name] = (annotation, field)
    return create_model("AthenaEnvironment", __base__=_EnvironmentBase, **fields)


class _OkxSecretsEnvironment(_EnvOnly):
    """OKX_API_KEY / OKX_API_SECRET / OKX_API_PASSPHRASE from the environment, then from .env."""

    model_config = SettingsConfigDict(
        env_prefix="OKX_API_", case_sensitive=False, env_ignore_empty=True, extra="ignore"
    )

    key: SecretStr | None = None
    secret: SecretStr | None = None
    passphrase: SecretStr | None = None


# ---- public entry point ---------------------------------------------------------------------


def load_config(
    root: Path | None = None,
    env: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    files: Sequence[Path] = (),
) -> AthenaConfig:
    """Read every layer under ``root`` (default: the current directory) and validate the result.

    Raises ``ConfigError`` naming the file or variable, the key, the value and what was expected.
    Every secret of the result is registered with the log redaction filter.
    """
    root = Path.cwd() if root is None else Path(root)
    env_data, secret_data = _read_environment(root)
    environment = _choose_environment(env, env_data)

    layers: list[_Layer] = []
    config_dir = root / "config"
    base = config_dir / "base.json"
    if base.exists():
        layers.append(_json_layer(base, root))
        env_file = config_dir / f"{environment.value}.json"
        if not env_file.exists():
            raise ConfigError(
                f"{_shown(env_file, root)}: not found; ATHENA_ENV={environment.value} needs it beside base.json "
                f"(create it, even as {{}})"
            )
        layers.append(_json_layer(env_file, root))
    local = config_dir / "local.json"
    if local.exists():
        layers.append(_json_layer(local, root))
    for extra in files:
        path = Path(extra)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found; give an existing JSON file to --config")
        layers.append(_json_layer(path, root))
    layers.append(_Layer(env_data, _env_var_name))
    layers.append(_Layer(secret_data, _okx_var_name))
    if overrides:
        _check_layer(dict(overrides), lambda loc: "command-line option")
        layers.append(_Layer(dict(overrides), lambda loc: "command-line option"))

    merged: dict[str, Any] = {}
    for layer in layers:
        merged = deep_merge(merged, layer.data)
    merged["env"] = environment
    try:
        config = AthenaConfig.model_validate(merged)
    except ValidationError as err:
        raise ConfigError(_describe(err, lambda loc: _owner(layers, loc))) from None
    for secret in config.secrets():
        register_secret(secret)
    return config


def deep_merge(low: Mapping[str, Any], high: Mapping[str, Any]) -> dict[str, Any]:
    """``high`` over ``low``: dicts merge key by key, anything else (lists too) is replaced."""
    out = dict(low)
    for key, value in high.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


# ---- layers ---------------------------------------------------------------------------------


def _shown(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _json_layer(path: Path, root: Path) -> _Layer:
    shown = _shown(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{shown}: cannot be read ({err.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{shown}, line {err.lineno}, column {err.colno}: invalid JSON: {err.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{shown}: expected a JSON object {{...}} at the top, found {type(data).__name__}")
    if "env" in data:
        raise ConfigError(f"{shown}: env is chosen by ATHENA_ENV, not set in a file; remove the key")

    def name(loc: tuple[str | int, ...]) -> str:
        return shown

    _check_layer(data, name)
    return _Layer(data, name)


def _check_layer(data: dict[str, Any], name: Callable[[tuple[str | int, ...]], str]) -> None:
    try:
        partial_model(AthenaConfig).model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, name)) from None


def _read_environment(root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    env_file = root / ".env"
    try:
        settings = _environment_model()(_env_file=env_file)
    except ValidationError as err:
        raise ConfigError(_describe(err, _env_var_name)) from None
    except SettingsError as err:
        raise ConfigError(f"environment: {err}; ATHENA_* values of lists and objects are JSON") from None
    try:
        secrets = _OkxSecretsEnvironment(_env_file=env_file)
    except ValidationError as err:
        raise ConfigError(_describe(err, _okx_var_name)) from None
    env_data = settings.model_dump(exclude_unset=True)
    okx = {f"api_{k}": v for k, v in secrets.model_dump(exclude_unset=True).items() if v is not None}
    return env_data, ({"okx": okx} if okx else {})


def _choose_environment(env: str | None, env_data: dict[str, Any]) -> Environment:
    chosen = env if env is not None else env_data.pop("env", None)
    env_data.pop("env", None)
    if chosen is None:
        return Environment.DEVELOPMENT
    try:
        return Environment(str(chosen).lower())
    except ValueError:
        names = ", ".join(e.value for e in Environment)
        raise ConfigError(f"ATHENA_ENV = {str(chosen)!r} — expected one of {names}") from None


def _env_var_name(loc: tuple[str | int, ...]) -> str:
    keys = [str(part) for part in loc if isinstance(part, str)]
    return "environment variable " + ENV_PREFIX + ENV_DELIMITER.join(keys).upper()


def _okx_var_name(loc: tuple[str | int, ...]) -> str:
    last = str(loc[-1]) if loc else "api_key"
    return "environment variable OKX_" + last.upper()


def _owner(layers: list[_Layer], loc: tuple[str | int, ...]) -> str:
    """The highest layer that set the longest prefix of ``loc``: who to blame for a merged error."""
    best: tuple[int, str] | None = None
    for layer in layers:
        depth, node = 0, layer.data
        for part in loc:
            if isinstance(node, Mapping) and part in node:
                depth, node = depth + 1, node[part]
            else:
                break
        if depth and (best is None or depth >= best[0]):
            # a section error (a cross-field rule): name the one key set under it, if only one
            path = tuple(loc[:depth])
            while isinstance(node, Mapping) and len(node) == 1:
                key = next(iter(node))
                path, node = (*path, key), node[key]
            if isinstance(node, Mapping) and node:
                path = (*path, "*")
            best = (depth, layer.name(path))
    return best[1] if best else "defaults"


# ---- error text -----------------------------------------------------------------------------


def _dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _known_keys(loc: tuple[str | int, ...]) -> list[str]:
    model: Any = AthenaConfig
    for part in loc:
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return []
        model = _model_of(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted(model.model_fields)
    return []


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
    return annotation


def _expected(err: Mapping[str, Any], loc: tuple[str | int, ...]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind in ("float_parsing", "float_type", "finite_number"):
        return "expected a number"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "expected a whole number"
    if kind in ("bool_parsing", "bool_type"):
        return "expected true or false"
    if kind == "string_type":
        return "expected a string"
    if kind in ("list_type", "tuple_type"):
        return "expected a list"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "expected an object {...}"
    if kind == "greater_than":
        return f"expected a number > {ctx.get('gt')}"
    if kind == "greater_than_equal":
        return f"expected a number >= {ctx.get('ge')}"
    if kind == "less_than":
        return f"expected a number < {ctx.get('lt')}"
    if kind == "less_than_equal":
        return f"expected a number <= {ctx.get('le')}"
    if kind in ("enum", "literal_error"):
        return f"expected one of {ctx.get('expected')}"
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length')} item(s)"
    if kind == "extra_forbidden":
        known = _known_keys(loc[:-1])
        return "unknown key" + (f"; expected one of: {', '.join(known)}" if known else "")
    if kind == "missing":
        return "missing; expected a value"
    if kind in ("datetime_parsing", "datetime_type", "datetime_from_date_parsing"):
        return "expected an ISO 8601 date or time such as '2024-05-01T08:00:00Z'"
    msg = str(err.get("msg", kind))
    return msg.removeprefix("Value error, ")


def _value(err: Mapping[str, Any], loc: tuple[str | int, ...]) -> str:
    if err["type"] == "missing":
        return ""
    if any(part in _SECRET_NAMES for part in loc):
        return " = '***'"
    value = err.get("input")
    if isinstance(value, SecretStr):
        return " = '***'"
    if value is None or isinstance(value, str | int | float | bool):
        return f" = {value!r}"
    return ""


def _describe(err: ValidationError, name: Callable[[tuple[str | int, ...]], str]) -> str:
    lines = []
    errors = err.errors(include_url=False)
    for item in errors[:_MAX_ERRORS]:
        loc = tuple(item["loc"])
        lines.append(f"{name(loc)}: {_dotted(loc) or '(top level)'}{_value(item, loc)} — {_expected(item, loc)}")
    if len(errors) > _MAX_ERRORS:
        lines.append(f"and {len(errors) - _MAX_ERRORS} more")
    return "; ".join(lines)
