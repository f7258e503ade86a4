"""Learn: the cited LDN guide, as pages in the app (`/learn`) and as a printable handout.

Page models are built from the knowledge base only; every fact on them carries its source ids
(or says that no source was found), so templates and the handout render facts, never write
them. `site.py` builds and caches the pages, `search.py` answers the search box, `handout.py`
prints a condition's page as a PDF.
"""
