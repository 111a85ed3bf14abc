"""The one error the store raises: it names the database (password hidden) and says
what went wrong, so that ``vipproxy run`` can print it as it is."""

from __future__ import annotations


class StoreError(Exception):
    """The database at ``url`` could not be opened, migrated, read or written."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(f"store {url}: {problem}")
        self.url = url  # as shown: the password replaced by ***
        self.problem = problem
