"""The hash-chained event log of every case change, and its verification."""
