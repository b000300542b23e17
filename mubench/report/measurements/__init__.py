"""The report by measurement: each module holds one measurement's row selection, its section(s),
its plots and its claim(s)."""
