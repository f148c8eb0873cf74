"""Ownership of one librai handle, the way Context and Buffer own theirs: close() frees it now
(idempotent), `with` frees it at the end of the block, and ffi.gc frees it when the object is
garbage collected without either. Objects the C side keeps borrowing (a Context, a parent
handle) are held in `_keep` so they outlive the handle."""

from ._backend import ffi


class Handle:
    __slots__ = ("_ptr", "_keep", "_borrowed", "__weakref__")
    _KIND = "handle"  # the name used in "operation on a closed ..." errors

    def _own(self, raw, destroy, keep=()):
        self._ptr = ffi.gc(raw, destroy)
        self._keep = tuple(keep)

    def _borrow(self, raw, keep):
        """Refers to a handle someone else owns (kept alive through `keep`); close() only
        forgets it."""
        self._ptr = raw
        self._keep = tuple(keep)
        self._borrowed = True

    def close(self):
        """Frees the librai object now. Idempotent; later use raises ValueError."""
        ptr = getattr(self, "_ptr", None)
        self._ptr = None
        if ptr is not None and not getattr(self, "_borrowed", False):
            ffi.release(ptr)
        self._keep = ()

    @property
    def closed(self):
        return getattr(self, "_ptr", None) is None

    def __enter__(self):
        self._handle()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _handle(self):
        ptr = getattr(self, "_ptr", None)
        if ptr is None:
            raise ValueError(f"operation on a closed {self._KIND}")
        return ptr
