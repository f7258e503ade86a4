"""Reports for people: the visit PDF (model → charts → layout). Pure model in `model`;
matplotlib and reportlab are imported only when a report is drawn."""
