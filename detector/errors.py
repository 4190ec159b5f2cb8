"""Errors Kestrel reports to people: one clear line each, no traceback needed."""


class KestrelError(Exception):
    """Base of every error the CLI prints as a single line."""


class ModelPackageError(KestrelError):
    """A model package is missing, malformed or inconsistent."""


class ModelImportError(KestrelError):
    """A foreign model (ncnn, PyTorch checkpoint) cannot be imported."""


class ImageError(KestrelError):
    """An input image is missing or cannot be decoded."""


class BackendError(KestrelError):
    """A requested inference backend is unavailable here."""
