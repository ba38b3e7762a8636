"""Settings declared once: a frozen dataclass whose fields carry their help
text, their check and their command-line form, from which the absl flags,
the validation and the docs are generated.

    @dataclasses.dataclass(frozen=True)
    class JobConfig:
        epochs: int = setting(100, "Total epochs.", flag="integer", check=at_least(1))

    define_flags(JobConfig)                  # --epochs, with that help text
    config = from_flags(JobConfig)           # JobConfig(epochs=FLAGS.epochs)
    JobConfig(epochs=0)                      # ValueError naming `epochs`
"""

import dataclasses
import json

from absl import flags

from keras_dsmae.utils import validation

FLAG_KINDS = ("string", "integer", "float", "bool", "enum")


def setting(default, help, *, flag=None, choices=None, check=None, parse=None, recorded=False):
    """A dataclass field that documents, checks and (with `flag`) defines
    itself.

    Args:
        default: the value when none is given (immutable).
        help: one line for the docs and `--help`.
        flag: absl kind of its command-line flag (`FLAG_KINDS`), or None
            for a setting that has no flag.
        choices: the allowed values (checked; the flag is an enum of them).
        check: `check(name, value)` raising a `ValueError` that names the
            setting; it may return a normalised value, which replaces the
            given one.
        parse: `parse(text)` for a string flag whose value is not a string
            (JSON, a `Normalization`).
        recorded: whether the value as given goes into the run's record
            (`run_config.json`) and the comparison on resume.
    """
    if flag is not None and flag not in FLAG_KINDS:
        raise ValueError(f"`flag` must be one of {FLAG_KINDS} or None; got flag={flag!r}.")
    metadata = dict(help=help, flag=flag, choices=choices, check=check, parse=parse, recorded=recorded)
    return dataclasses.field(default=default, metadata=metadata)


def check_fields(config):
    """Run every field's check (and `choices`) on a frozen dataclass,
    replacing values by their normalised form; call in `__post_init__`."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        choices, check = field.metadata.get("choices"), field.metadata.get("check")
        if choices is not None and not (value is None and field.default is None):
            validation.check_choice(field.name, value, choices)
        if check is not None:
            checked = check(field.name, value)
            if checked is not None:
                object.__setattr__(config, field.name, checked)


def recorded_fields(config):
    """`{name: value}` of the fields marked `recorded`."""
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.metadata.get("recorded")}


def flag_fields(config_class, names=None):
    """The fields of `config_class` that have a flag (only `names`, in that
    order, when given)."""
    fields = {f.name: f for f in dataclasses.fields(config_class) if f.metadata.get("flag")}
    if names is None:
        return list(fields.values())
    missing = [name for name in names if name not in fields]
    if missing:
        raise ValueError(f"{config_class.__name__} has no flag for {missing}.")
    return [fields[name] for name in names]


def define_flags(config_class, names=None, defaults=None, flag_values=flags.FLAGS):
    """Define the absl flags of `config_class`'s fields (only `names` when
    given); a flag already defined is left as it is, so commands that
    share settings may all call this. `defaults` replaces fields'
    defaults (e.g. an example script's data set)."""
    defaults = defaults or {}
    for field in flag_fields(config_class, names):
        if field.name in flag_values:
            continue
        kind, default = field.metadata["flag"], defaults.get(field.name, field.default)
        if field.metadata.get("parse") is not None and kind != "string":
            raise ValueError(f"--{field.name}: a flag with a parser must be a string flag.")
        if kind == "enum":
            flags.DEFINE_enum(field.name, default, [str(c) for c in field.metadata["choices"]],
                              field.metadata["help"], flag_values=flag_values)
        else:
            getattr(flags, f"DEFINE_{kind}")(field.name, default, field.metadata["help"],
                                            flag_values=flag_values)


def flag_settings(config_class, names=None, flag_values=flags.FLAGS):
    """`{name: value}` of the parsed flags of `config_class` (only `names`
    when given), each through its field's `parse` when it has one."""
    values = {}
    for field in flag_fields(config_class, names):
        value = flag_values[field.name].value
        parse = field.metadata.get("parse")
        if parse is not None and value is not None:
            try:
                value = parse(value)
            except ValueError as error:
                raise ValueError(f"--{field.name} {error}") from None
        values[field.name] = value
    return values


def from_flags(config_class, flag_values=flags.FLAGS, **more):
    """A `config_class` from its parsed flags, plus `more` fields."""
    return config_class(**{**flag_settings(config_class, flag_values=flag_values), **more})


def field_docs(config_class):
    """`Attributes:` lines of a docstring, from the fields' help (with the
    flag named, and the default)."""
    lines = ["", "", "Attributes:"]
    for field in dataclasses.fields(config_class):
        flag = f" (`--{field.name}`)" if field.metadata.get("flag") else ""
        text = field.metadata.get("help", "")
        if "default" not in text.lower():
            text += f" Default: {field.default!r}."
        lines.append(f"    {field.name}{flag}: {text}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- checks
def at_least(minimum, optional=False):
    """Check: an integer >= `minimum` (or None when `optional`)."""
    def check(name, value):
        if not (optional and value is None):
            validation.check_int(name, value, minimum=minimum)
    return check


def in_range(low=None, high=None, low_open=False, optional=False):
    """Check: a real number in the interval (or None when `optional`)."""
    def check(name, value):
        if not (optional and value is None):
            validation.check_float(name, value, low, high, low_open=low_open)
    return check


def is_bool(name, value):
    """Check: True or False."""
    validation.check_bool(name, value)


def json_object(text):
    """Parse a JSON-object flag (e.g. `--model_overrides`) → dict (None when
    empty); a `ValueError` when it is not a JSON object."""
    if not text:
        return None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"must be a JSON object; got {text!r} ({error}).") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"must be a JSON object; got {text!r}.")
    return parsed
