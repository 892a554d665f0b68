"""Feature kinds by name. A kind is a config dataclass and the transform built from it, registered
together by one decorator on the transform, as lhotse's ``register_extractor`` with ``config_type``::

    @dataclass
    class LogMelConfig(FeatureConfig):
        name: ClassVar[str] = "logmel"
        n_mels: int = setting(64, AT_LEAST_ONE)

    @register_feature(LogMelConfig)
    class LogMel(FeatureTransform):
        in_db = True
        ...

:mod:`soundtag.config` then reads ``features: {name: logmel, ...}`` into a ``LogMelConfig``, and
:func:`~soundtag.features.transforms.build_transform` builds a ``LogMel`` from it. What the other
stages need to know of a kind (``in_db``, ``spectral``, ``fixed_frames``, ``num_bins``) the
transform says; nobody tests feature names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from soundtag.config import FeatureConfig

if TYPE_CHECKING:
    from soundtag.features.transforms import FeatureTransform

    T = TypeVar("T", bound=type[FeatureTransform])

# Transform classes by feature name; each carries its config class as ``config_type``.
TRANSFORMS: dict[str, type[FeatureTransform]] = {}


def register_feature(config_type: type[FeatureConfig]) -> Callable[[T], T]:
    """Class decorator: the decorated transform is built from ``config_type`` configs, and both are
    found by ``config_type.name``.
    """

    def register(transform_type: T) -> T:
        name = config_type.name
        if not name:
            raise ValueError(f"{config_type.__name__} needs a name to be registered")
        if name in TRANSFORMS:
            raise ValueError(f"feature {name!r} is registered already, by {TRANSFORMS[name].__name__}")
        transform_type.config_type = config_type
        TRANSFORMS[name] = transform_type
        return transform_type

    return register


def transform_type(config: FeatureConfig) -> type[FeatureTransform]:
    """The transform class registered with ``config``'s class."""
    found = TRANSFORMS.get(config.name)
    if found is None or found.config_type is not type(config):
        raise TypeError(f"no transform registered for feature config {type(config).__name__}")
    return found
