"""lowdose: decision support for people taking low-dose naltrexone and their prescribers."""

__version__ = "0.1.0"
