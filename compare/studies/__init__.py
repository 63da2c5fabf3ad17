"""Studies: report sections beyond the parity table, one module per study, discovered like the cases."""
