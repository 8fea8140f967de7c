"""Residents' rights over their data (PIPL): export, deletion on request, anonymisation after retention."""
