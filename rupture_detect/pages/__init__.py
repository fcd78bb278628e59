"""Pages: the offline HTML report and the study pages and quiz (autoescaping Jinja2 templates)."""
