"""tdxsim: a pure-Python simulator of how Linux KVM and the Intel TDX module build a TD's private memory.

Start with `tdxsim.vmm.process.Vmm` (one method per uAPI call) or `tdxsim.scenario.run_scenario` (the scenario
format). Importing tdxsim imports neither matplotlib nor ipywidgets; `tdxsim.plot` and `tdxsim.widgets` do.
"""

__version__ = "0.1.0"
