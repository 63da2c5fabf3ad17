"""Data shared by both sides: datasets (offline by default), train/dev/test splits, expression trees."""
