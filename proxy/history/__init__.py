"""The shared call history: each finished call's record (``proxy.dialog``) written
behind to the store, purged after ``history.retention``, and shown by
``vipproxy history`` to the line's owner and their accepted delegates."""
