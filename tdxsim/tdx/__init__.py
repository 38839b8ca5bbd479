"""The TDX module: SEAMCALL leaves, the Secure-EPT, PAMT page ownership and the TD measurement."""
