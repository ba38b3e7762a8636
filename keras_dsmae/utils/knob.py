"""`Knob`: one setting of a model part, described once.

A knob carries its default, what values it allows, its meaning and, when
the tuner may search it, its default search range. From that one record
come the check at construction (a `ValueError` naming the knob, the value
and what is allowed), the docs, and the check of a tuner's range.
"""

import dataclasses
from typing import Any, Callable, Optional, Tuple, Union

from keras_dsmae.utils import validation

KINDS = ("float", "int", "bool", "choice", "seed", "optional_int")


@dataclasses.dataclass(frozen=True)
class Knob:
    """One setting of a part.

    Attributes:
        default: the value when the knob is not given.
        help: what it does, one or two sentences.
        kind: `"float"`, `"int"`, `"bool"`, `"choice"`, `"seed"` (an int
            >= 0 or None) or `"optional_int"` (an int or None).
        low, high: bounds of a number (None: unbounded); an `"int"` takes
            `low` as its minimum.
        low_open, high_open: exclude the bound (floats).
        choices: the allowed values of a `"choice"`, or a callable that
            returns them (for registries that fill at import).
        tune: the tuner's default `(low, high)` search range, or None when
            the knob is not tuned.
        tune_log: search on a log scale.
        tune_fixable: the tuner's range may be a single value.
        part: the part that owns the knob (for the docs' grouping).
        argument: the owning part's constructor argument, when it is not
            the knob's flat name (e.g. `target_layers` → `num_layers`).
    """

    default: Any
    help: str
    kind: str = "float"
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False
    choices: Union[Tuple, Callable, None] = None
    tune: Optional[Tuple[float, float]] = None
    tune_log: bool = False
    tune_fixable: bool = True
    part: str = ""
    argument: Optional[str] = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Knob kind must be one of {KINDS}; got {self.kind!r}.")

    def allowed_values(self):
        """The allowed values of a `"choice"` knob, as a tuple."""
        return tuple(self.choices() if callable(self.choices) else self.choices)

    def check(self, name, value):
        """`value` as validated for knob `name`; a `ValueError` naming the
        knob, the value and what is allowed otherwise."""
        if self.kind == "float":
            return validation.check_float(name, value, self.low, self.high, self.low_open, self.high_open)
        if self.kind == "int":
            return validation.check_int(name, value, minimum=self.low, maximum=self.high)
        if self.kind == "optional_int":
            return None if value is None else validation.check_int(name, value, self.low, self.high)
        if self.kind == "bool":
            return validation.check_bool(name, value)
        if self.kind == "seed":
            return validation.check_seed(name, value)
        return validation.check_choice(name, value, self.allowed_values())

    def describe(self):
        """What is allowed, in words (for the docs)."""
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.allowed_values())
        if self.kind == "bool":
            return "True or False"
        if self.kind == "seed":
            return "an int >= 0 or None"
        whole = self.kind in ("int", "optional_int")
        bounds = validation.interval(self.low, self.high, self.low_open, self.high_open)
        text = (f"an int >= {self.low}" if whole and self.high is None and self.low is not None
                else f"{'an int' if whole else 'a number'} in {bounds}")
        return text + (" or None" if self.kind == "optional_int" else "")

    def check_range(self, name, bounds):
        """A tuner's `(low, high)` for this knob, as numbers of its kind: both
        ends allowed values, `low <= high` (`<` unless `tune_fixable`). A
        `ValueError` naming `ranges[name]` and what is allowed otherwise."""
        whole = self.kind in ("int", "optional_int")
        numbers_pair = (isinstance(bounds, (tuple, list)) and len(bounds) == 2
                        and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds))
        if not numbers_pair:
            raise ValueError(f"`ranges[{name!r}]` must be a (low, high) pair of numbers; got {bounds!r}.")
        low, high = bounds
        in_order = low <= high if self.tune_fixable else low < high
        try:
            for end in bounds:
                self.check(name, int(end) if whole and float(end).is_integer() else end)
        except ValueError:
            in_order = False
        if not in_order:
            raise ValueError(f"`ranges[{name!r}]` must satisfy {self._range_rule()}; got {tuple(bounds)}.")
        return (int(low), int(high)) if whole else (float(low), float(high))

    def _range_rule(self):
        """E.g. `0.0 < low < high < 1.0`, or `1 <= low <= high, whole numbers`."""
        rule = "low <= high" if self.tune_fixable else "low < high"
        if self.low is not None:
            rule = f"{self.low} {'<' if self.low_open else '<='} {rule}"
        if self.high is not None:
            rule = f"{rule} {'<' if self.high_open else '<='} {self.high}"
        return rule + (", whole numbers" if self.kind in ("int", "optional_int") else "")


def knob_owner_registration(registry, name, kind, name_attribute, check=None):
    """A class decorator that puts a class with `KNOBS` (`{flat name: Knob}`)
    into `registry` under `name` (replacing the class that name had) and
    sets its `name_attribute` to `name`. A knob name that another registered
    class declares is refused: flat names must be unique.

    Args:
        registry: `{name: class}`, e.g. the teacher targets or loss terms.
        name: the name to register the class under.
        kind: what the classes are, for errors (`"teacher target"`).
        name_attribute: the class attribute that receives `name`.
        check: optional `check(name, cls)` that raises for a bad class.
    """
    def register(cls):
        if check is not None:
            check(name, cls)
        replaced = registry.get(name)
        others = {knob for owner in registry.values() if owner is not replaced for knob in owner.KNOBS}
        clash = sorted(set(cls.KNOBS) & others)
        if clash:
            raise ValueError(f"{kind[0].upper()}{kind[1:]} {name!r}: knob names {clash} are already another "
                             f"{kind.split()[-1]}'s.")
        registry[name] = cls
        setattr(cls, name_attribute, name)
        return cls

    return register


def registered_knobs(registry):
    """`{flat name: Knob}` of every class in `registry`, class by class."""
    return {name: knob for owner in registry.values() for name, knob in owner.KNOBS.items()}


def chosen_owner_arguments(registry, choice, settings):
    """The constructor arguments of the class `settings[choice]` selects
    from `registry`, from its own knobs in `settings` (flat names).

    Args:
        registry: `{name: class with KNOBS}` (e.g. the teacher targets).
        choice: the knob that selects the class (`"teacher_target"`).
        settings: checked knob values, every registered class's included.

    Returns:
        `(cls, {argument: value})`.

    Raises:
        ValueError: another class's knob is set away from its default,
            naming the knob and the `choice` it needs.
    """
    chosen = settings[choice]
    cls = registry[chosen]
    for other_name, other in registry.items():
        for name, knob in other.KNOBS.items():
            if other is not cls and name not in cls.KNOBS and settings[name] != knob.default:
                raise ValueError(
                    f"`{name}`={settings[name]!r} needs `{choice}`={other_name!r}; got {choice}={chosen!r}. "
                    f"Allowed: {name}={knob.default!r} with {choice}={chosen!r}."
                )
    return cls, {knob.argument or name: settings[name] for name, knob in cls.KNOBS.items()}
