"""The bundled terminal client.

Layout, from the wire up (each layer knows nothing of the ones above it):

- ``protocol``   sans-I/O: bytes in -> event dicts out, requests -> bytes, using the line framing
                 and JSON-line codec the server uses too (``chat.wire``).
- ``model``      sans-I/O: what the user can see -- conversations (rooms and private chats),
                 members, topics, lines, unread counts, mentions. ``ChatModel.apply(event)``.
- ``connection`` asyncio: connects, does the hello/welcome handshake, answers pings, reconnects
                 with backoff and rejoins rooms, feeding every event to the model.
- ``commands``   what ``/join``, ``/msg``, ``/me``... mean, as calls on the connection and model.
- ``completion``, ``layout``, ``keys``, ``style``: the prompt_toolkit UI pieces.
- ``app``        ``ChatApp`` wires it together; ``cli`` is ``chat-client``.
"""
