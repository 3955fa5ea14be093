"""Errors aezoo raises at its edges. Each carries a one-line message naming the problem."""


class AezooError(ValueError):
    """Base class: a user-facing problem (bad name, setting, shape, data or path)."""


class ConfigError(AezooError):
    """An impossible or unknown setting (model, hyper-parameter, training option)."""


class ShapeError(AezooError):
    """An array of the wrong rank, shape or dtype."""


class DataError(AezooError):
    """An unknown, unprepared or malformed dataset."""


class NonFiniteError(AezooError):
    """Training produced a NaN or infinite loss."""


class CheckpointError(AezooError):
    """A missing, corrupt, truncated or mismatched checkpoint."""
