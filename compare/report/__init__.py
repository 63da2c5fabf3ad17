"""Reports: ``results/`` (markdown, CSV, JSON, plots), the study site, the studies registry, atomic writes."""
