"""Small named exceptions of the knowledge-base library; the CLI turns them into `Error: …`."""


class KnowledgeBaseError(Exception):
    """Base class of every knowledge-base error."""


class EntryNotFound(KnowledgeBaseError):
    """No entry has the requested id."""


class InvalidEntry(KnowledgeBaseError):
    """An entry is missing a field or has a field of the wrong shape."""


class ImportFormatError(KnowledgeBaseError):
    """A file to import cannot be read at all (unknown format, not UTF-8, not a table)."""
