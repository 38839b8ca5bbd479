"""tdxsim: a pure-Python simulator of how Linux KVM and the Intel TDX module build a TD's private memory.

Start with `tdxsim.Vmm` (= `tdxsim.vmm.process.Vmm`: one method per uAPI call, system call and guest action, each
returning a `tdxsim.result.Result`, plus queries of the state), `tdxsim.recipes` (QEMU's sequences written as those
calls) or `tdxsim.scenario.run_scenario` (the scenario format).
Importing tdxsim imports neither matplotlib nor ipywidgets; `tdxsim.plot` and `tdxsim.widgets` do.
"""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """`tdxsim.Vmm`, imported on first use so that `import tdxsim` stays cheap."""
    if name == "Vmm":
        from tdxsim.vmm.process import Vmm

        return Vmm
    raise AttributeError(f"module 'tdxsim' has no attribute {name!r}")
