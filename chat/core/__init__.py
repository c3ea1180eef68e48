"""The I/O-free core: commands in, deliveries out. See chat/__init__.py for the layout."""

from chat.core.core import ChatCore

__all__ = ["ChatCore"]
