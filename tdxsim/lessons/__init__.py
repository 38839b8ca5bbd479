"""The chapters' scenarios and what they read off the simulator: pure Python, one module per notebook topic."""
