"""Errors that are the user's to fix. The command line prints them and exits with 2."""


class JacktfError(Exception):
    """A user mistake: bad configuration, missing file, unknown plugin, bad data."""


class PluginError(JacktfError):
    """A plugin could not be registered or found."""


class DuplicatePluginError(PluginError):
    """The same name was registered twice for one kind."""


class UnknownPluginError(PluginError, KeyError):
    """A name that no plugin registered."""

    def __str__(self):  # KeyError would quote the message.
        return str(self.args[0]) if self.args else ''


class RestoreError(JacktfError):
    """A checkpoint does not fit the model, or an exclude rule is wrong."""


class DataError(JacktfError):
    """Input data is missing, empty or malformed."""


class ConfigError(JacktfError):
    """A configuration value is invalid."""
