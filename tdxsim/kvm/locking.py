"""Lock orders of KVM_TDX_INIT_MEM_REGION's populate path and of a userspace fault on a guest_memfd mapping, before
and after commit 2a62345b3052 ("KVM: guest_memfd: GUP source pages prior to populating guest memory"), as data;
a lockdep-like lock-order checker; and a tiny scheduler that interleaves the paths step by step.

The point of 2a62345b3052: `kvm_gmem_populate()` used to take guest_memfd's filemap invalidate lock and then let
TDX's post-populate callback GUP the source page, which may take `mmap_lock` (invalidate lock -> mmap_lock). With
in-place conversion, the userspace fault handler takes the invalidate lock while the page-fault path already holds
`mmap_lock` (mmap_lock -> invalidate lock): an AB-BA pair. The commit GUPs the source before taking the invalidate
lock, so populate never holds both.

Every acquisition names its source (`SOURCES`); `Op.inferred` says why, where an order is inferred rather than read.
Pure Python: no simulator state is touched, so `import tdxsim` stays light.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from tdxsim.kvm.flavours import FLAVOURS

EXCLUSIVE = "exclusive"  # mutex_lock, down_write (filemap_invalidate_lock), mmap_write_lock
SHARED = "shared"  # down_read (filemap_invalidate_lock_shared, mmap_read_lock), read_lock


@dataclass(frozen=True)
class Source:
    """Where an acquisition is written down: a mail (Message-ID), a commit, or a kernel file and function."""

    key: str
    title: str
    ref: str
    url: str = ""


def _lore(msgid: str) -> str:
    return f"https://lore.kernel.org/all/{msgid}/"


SOURCES: dict[str, Source] = {
    s.key: s
    for s in (
        Source(
            "state-guard",
            'Sean Christopherson, "[PATCH v3 24/25] KVM: TDX: Guard VM state transitions with "all" the locks": '
            "tdx_acquire_vm_state_locks takes kvm->lock, kvm_lock_all_vcpus, then kvm->slots_lock; "
            "tdx_vcpu_unlocked_ioctl uses it for INIT_MEM_REGION",
            "20251017003244.186495-25-seanjc@google.com",
            _lore("20251017003244.186495-25-seanjc@google.com"),
        ),
        Source(
            "yan-abba",
            'Yan Zhao, "[RFC PATCH] KVM: TDX: Decouple TDX init mem region from kvm_gmem_populate()", problem (2): '
            '"get_user_pages_fast() may acquire mm->mmap_lock ... filemap invalidation lock --> mm->mmap_lock"; the '
            'in-place fault path gives "mm->mmap_lock --> filemap invalidation lock"',
            "20250703062641.3247-1-yan.y.zhao@intel.com",
            _lore("20250703062641.3247-1-yan.y.zhao@intel.com"),
        ),
        Source(
            "old-populate",
            "kvm_gmem_populate() before the rework: filemap_invalidate_lock() around the whole loop, "
            "post_populate() inside it; tdx_gmem_post_populate() calls get_user_pages_fast() (the lines the "
            "2a62345b3052 diff removes; quoted in Michael Roth's v2 5/5)",
            "20251215153411.3613928-6-michael.roth@amd.com",
            _lore("20251215153411.3613928-6-michael.roth@amd.com"),
        ),
        Source(
            "commit-2a62",
            'commit 2a62345b3052: "hoisting the GUP above the filemap invalidate lock so that these page faults '
            'path can be taken early, prior to acquiring the filemap invalidate lock" (Michael Roth, v3 6/6)',
            "20260108214622.1084057-7-michael.roth@amd.com",
            _lore("20260108214622.1084057-7-michael.roth@amd.com"),
        ),
        Source(
            "sean-hoist",
            "Sean Christopherson's suggestion to hoist the source-page GUP out of filemap_invalidate_lock()",
            "aHEwT4X0RcfZzHlt@google.com",
            _lore("aHEwT4X0RcfZzHlt@google.com"),
        ),
        Source(
            "map-private-pfn",
            "Sean Christopherson's kvm_tdp_mmu_map_private_pfn(): lockdep_assert_held(&kvm->slots_lock), then "
            "guard(read_lock)(&kvm->mmu_lock) around kvm_tdp_mmu_map()",
            "aG_pLUlHdYIZ2luh@google.com",
            _lore("aG_pLUlHdYIZ2luh@google.com"),
        ),
        Source(
            "gmem-attrs",
            'Sean Christopherson et al., "KVM: guest_memfd: Introduce per-gmem attributes, use to guard user '
            'mappings" (RFC v1 01/37 of the in-place conversion series; the same patch is in the v8 list): '
            "kvm_gmem_fault_user_mapping() checks the attribute under filemap_invalidate_lock_shared()",
            "638600e19c6e23959bad60cf61582f387dff6445.1760731772.git.ackerleytng@google.com",
            _lore("638600e19c6e23959bad60cf61582f387dff6445.1760731772.git.ackerleytng@google.com"),
        ),
        Source(
            "gmem-fault-upstream",
            "virt/kvm/guest_memfd.c kvm_gmem_fault_user_mapping() without the in-place series: SIGBUS unless "
            "GUEST_MEMFD_FLAG_INIT_SHARED, then kvm_gmem_get_folio(); no invalidate lock",
            "kvm-x86/linux 5e38e1bd4e7bbed05481fd358ed47396930b7d1a virt/kvm/guest_memfd.c",
        ),
        Source(
            "fault-mmap-lock",
            "commit 2a62345b3052's message: \"the userspace page fault path will attempt to acquire the filemap "
            'invalidate lock while holding the mm->mmap_lock"',
            "20260108214622.1084057-7-michael.roth@amd.com",
            _lore("20260108214622.1084057-7-michael.roth@amd.com"),
        ),
        Source(
            "vm-mmap",
            "mm/util.c vm_mmap_pgoff(): mmap_write_lock_killable(mm) around do_mmap() (every mmap() of a VMM thread)",
            "mm/util.c vm_mmap_pgoff",
        ),
    )
}


@dataclass(frozen=True)
class LockClass:
    """A lock as lockdep sees it: one class for every instance (all vCPU mutexes are one class)."""

    name: str
    kind: str
    what: str


LOCKS: dict[str, LockClass] = {
    c.name: c
    for c in (
        LockClass("kvm->lock", "mutex", "VM-wide ioctl serialisation"),
        LockClass("vcpu->mutex", "mutex", "every vCPU's mutex (kvm_lock_all_vcpus)"),
        LockClass("kvm->slots_lock", "mutex", "memslot updates; held across INIT_MEM_REGION"),
        LockClass("filemap_invalidate_lock", "rw_semaphore", "guest_memfd's mapping->invalidate_lock"),
        LockClass("mmap_lock", "rw_semaphore", "the VMM process's mm->mmap_lock"),
        LockClass("kvm->mmu_lock", "rwlock", "KVM's MMU lock, read side for the TDP MMU"),
    )
}


@dataclass(frozen=True)
class Op:
    """One step of a path: take or drop a lock, or a call that takes none (`lock` is None)."""

    action: str  # "acquire", "release" or "call"
    lock: str | None
    mode: str
    function: str  # the kernel function where it happens
    source: str  # key into SOURCES
    inferred: str = ""  # why the step is inferred rather than read in the source; empty when read there
    note: str = ""

    def describe(self) -> str:
        """One line: `filemap_invalidate_lock (exclusive) in kvm_gmem_populate`."""
        if self.action == "call":
            return self.function
        verb = "take" if self.action == "acquire" else "drop"
        mode = f" ({self.mode})" if self.action == "acquire" else ""
        return f"{verb} {self.lock}{mode} in {self.function}"


@dataclass(frozen=True)
class Path:
    """A thread's code path as ordered lock operations."""

    key: str
    title: str
    thread: str  # the short name the interleaving shows
    ops: tuple[Op, ...]

    def acquisitions(self) -> list[Op]:
        """The acquire steps, in order."""
        return [op for op in self.ops if op.action == "acquire"]

    def order(self) -> list[str]:
        """The lock names in the order this path takes them."""
        return [op.lock for op in self.acquisitions() if op.lock]


def _acq(lock: str, mode: str, function: str, source: str, inferred: str = "", note: str = "") -> Op:
    return Op("acquire", lock, mode, function, source, inferred, note)


def _rel(lock: str, function: str, source: str, inferred: str = "") -> Op:
    return Op("release", lock, "", function, source, inferred)


_GUARD_INFERRED = (
    "read in the patch; that it is in the tree just before 2a62345b3052 is inferred from the dates (Oct 2025, "
    "and Michael Roth's v2 of Dec 2025 is based on a kvm/next that has the same series' page_add_src)"
)
_GUP_NOTE = "only if GUP-fast falls back to the slow path (the page is not mapped yet): 'may acquire' (Yan)"
_MMAP_RELEASE = "GUP drops mmap_lock before returning the pinned page (get_user_pages_fast's contract)"


def _state_guard(inferred: str) -> list[Op]:
    return [
        _acq("kvm->lock", EXCLUSIVE, "tdx_acquire_vm_state_locks", "state-guard", inferred),
        _acq("vcpu->mutex", EXCLUSIVE, "kvm_lock_all_vcpus", "state-guard", inferred),
        _acq("kvm->slots_lock", EXCLUSIVE, "tdx_acquire_vm_state_locks", "state-guard", inferred),
    ]


def _state_guard_release() -> list[Op]:
    return [
        _rel("kvm->slots_lock", "tdx_release_vm_state_locks", "state-guard"),
        _rel("vcpu->mutex", "kvm_unlock_all_vcpus", "state-guard"),
        _rel("kvm->lock", "tdx_release_vm_state_locks", "state-guard"),
    ]


def _map_and_add() -> list[Op]:
    return [
        _acq("kvm->mmu_lock", SHARED, "kvm_tdp_mmu_map_private_pfn", "map-private-pfn"),
        Op("call", None, "", "TDH.MEM.PAGE.ADD (tdx_mem_page_add, from the S-EPT hook)", "map-private-pfn"),
        _rel("kvm->mmu_lock", "kvm_tdp_mmu_map_private_pfn", "map-private-pfn"),
    ]


#: KVM_TDX_INIT_MEM_REGION for one page, before 2a62345b3052: TDX's callback GUPs inside the invalidate lock.
POPULATE_BEFORE = Path(
    "populate-before",
    "KVM_TDX_INIT_MEM_REGION before 2a62345b3052",
    "populate",
    (
        *_state_guard(_GUARD_INFERRED),
        _acq("filemap_invalidate_lock", EXCLUSIVE, "kvm_gmem_populate", "old-populate"),
        _acq("mmap_lock", SHARED, "get_user_pages_fast in tdx_gmem_post_populate", "yan-abba", note=_GUP_NOTE),
        _rel("mmap_lock", "get_user_pages_fast", "yan-abba", _MMAP_RELEASE),
        *_map_and_add(),
        _rel("filemap_invalidate_lock", "kvm_gmem_populate", "old-populate"),
        *_state_guard_release(),
    ),
)

#: KVM_TDX_INIT_MEM_REGION for one page since 2a62345b3052: GUP first, then the invalidate lock.
POPULATE_AFTER = Path(
    "populate-after",
    "KVM_TDX_INIT_MEM_REGION since 2a62345b3052",
    "populate",
    (
        *_state_guard(""),
        _acq("mmap_lock", SHARED, "get_user_pages_fast in kvm_gmem_populate", "commit-2a62", note=_GUP_NOTE),
        _rel("mmap_lock", "get_user_pages_fast", "commit-2a62", _MMAP_RELEASE),
        _acq("filemap_invalidate_lock", EXCLUSIVE, "__kvm_gmem_populate", "commit-2a62"),
        *_map_and_add(),
        _rel("filemap_invalidate_lock", "__kvm_gmem_populate", "commit-2a62"),
        *_state_guard_release(),
    ),
)

_FAULT_HANDLER = "the page-fault handler (before calling vma->vm_ops->fault)"

#: A VMM thread touching its mmap of guest_memfd, with the in-place series: the attribute check takes the
#: invalidate lock (shared) inside the page fault, which holds mmap_lock.
FAULT_IN_PLACE = Path(
    "fault-in-place",
    "userspace fault on a guest_memfd mapping (in-place conversion series)",
    "fault",
    (
        _acq("mmap_lock", SHARED, _FAULT_HANDLER, "fault-mmap-lock"),
        _acq("filemap_invalidate_lock", SHARED, "kvm_gmem_fault_user_mapping", "gmem-attrs"),
        _rel("filemap_invalidate_lock", "kvm_gmem_fault_user_mapping", "gmem-attrs"),
        _rel("mmap_lock", _FAULT_HANDLER, "fault-mmap-lock"),
    ),
)

#: The same fault on kernels without the in-place series: no invalidate lock, so no second edge.
FAULT_UPSTREAM = Path(
    "fault-upstream",
    "userspace fault on a guest_memfd mapping (without the in-place series)",
    "fault",
    (
        _acq("mmap_lock", SHARED, _FAULT_HANDLER, "fault-mmap-lock"),
        Op("call", None, "", "kvm_gmem_fault_user_mapping (no invalidate lock)", "gmem-fault-upstream"),
        _rel("mmap_lock", _FAULT_HANDLER, "fault-mmap-lock"),
    ),
)

#: A third VMM thread calling mmap(): mmap_lock for write. Readers queue behind it, which turns the lock-order
#: cycle into a real hang (see `Interleaving`).
MMAP_WRITER = Path(
    "mmap-writer",
    "another VMM thread calls mmap()",
    "mmap()",
    (
        _acq("mmap_lock", EXCLUSIVE, "vm_mmap_pgoff", "vm-mmap"),
        _rel("mmap_lock", "vm_mmap_pgoff", "vm-mmap"),
    ),
)

PATHS: dict[str, Path] = {
    p.key: p for p in (POPULATE_BEFORE, POPULATE_AFTER, FAULT_IN_PLACE, FAULT_UPSTREAM, MMAP_WRITER)
}

#: The comparison of the notebook: Yan's "future code" (the old populate with the in-place fault path, July 2025)
#: against the order since 2a62345b3052 with the same fault path (the v8 series).
ERAS: dict[str, tuple[Path, Path]] = {
    "before 2a62345b3052": (POPULATE_BEFORE, FAULT_IN_PLACE),
    "since 2a62345b3052": (POPULATE_AFTER, FAULT_IN_PLACE),
}


def paths_for(flavour: str) -> tuple[Path, Path]:
    """The populate path and the competing fault path of one kernel flavour (tdxsim.kvm.flavours)."""
    f = FLAVOURS[flavour]
    return (
        POPULATE_AFTER if f.gup_in_populate else POPULATE_BEFORE,
        FAULT_IN_PLACE if f.has_in_place else FAULT_UPSTREAM,
    )


# -- the lock-order checker (lockdep's idea, without its classes of contexts) ------------------------------------


@dataclass(frozen=True)
class Edge:
    """`held` was held when `acquired` was taken, on `path` at step `op`."""

    held: str
    acquired: str
    path: str
    op: Op


def dependencies(path: Path) -> list[Edge]:
    """Every held -> acquired pair of one path, in the order it first happens."""
    held: list[str] = []
    edges: list[Edge] = []
    for op in path.ops:
        if op.action == "acquire" and op.lock:
            edges += [Edge(h, op.lock, path.key, op) for h in held]
            held.append(op.lock)
        elif op.action == "release" and op.lock:
            held.remove(op.lock)
    return edges


def lock_order_graph(paths: Iterable[Path]) -> dict[tuple[str, str], list[Edge]]:
    """The lock-order graph of several paths: (held, acquired) -> the steps that created it."""
    graph: dict[tuple[str, str], list[Edge]] = {}
    for path in paths:
        for edge in dependencies(path):
            graph.setdefault((edge.held, edge.acquired), []).append(edge)
    return graph


def find_cycle(paths: Iterable[Path]) -> list[Edge] | None:
    """The first lock-order cycle (each edge with a step that creates it), or None: lockdep's
    "possible circular locking dependency". A cycle is a deadlock some interleaving can reach."""
    graph = lock_order_graph(paths)
    succ: dict[str, list[str]] = {}
    for held, acquired in graph:
        succ.setdefault(held, []).append(acquired)

    def walk(node: str, stack: list[str]) -> list[str] | None:
        for nxt in succ.get(node, []):
            if nxt in stack:
                return [*stack[stack.index(nxt) :], nxt]
            if found := walk(nxt, [*stack, nxt]):
                return found
        return None

    for start in sorted(succ):
        if cycle := walk(start, [start]):
            return [graph[(a, b)][0] for a, b in itertools.pairwise(cycle)]
    return None


# -- the interleaving: threads step one op at a time over real rwsem/mutex semantics -----------------------------


@dataclass
class LockState:
    """Who holds one lock and who waits for it, in arrival order."""

    holders: dict[str, str] = field(default_factory=dict)  # thread -> mode
    waiters: list[tuple[str, str]] = field(default_factory=list)  # (thread, mode), FIFO


def _conflicts(mode: str, other: str) -> bool:
    return mode == EXCLUSIVE or other == EXCLUSIVE


class Interleaving:
    """Threads that run their paths one op per step. A lock is granted when no holder conflicts and nobody waits
    ahead; so a reader queues behind a waiting writer, which is what kernel/locking/rwsem.c does when the lock is
    reader-owned ("To prevent a constant stream of readers from starving a sleeping writer, don't attempt
    optimistic lock stealing if the lock is very likely owned by readers", rwsem_down_read_slowpath)."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.paths = {p.thread: p for p in paths}
        self.pc = dict.fromkeys(self.paths, 0)
        self.locks: dict[str, LockState] = {}
        self.log: list[tuple[str, Op, str]] = []  # (thread, op, "done" or "waits")

    def lock(self, name: str) -> LockState:
        """The state of one lock."""
        return self.locks.setdefault(name, LockState())

    def next_op(self, thread: str) -> Op | None:
        """The op the thread runs next, or None when it has finished."""
        ops = self.paths[thread].ops
        return ops[self.pc[thread]] if self.pc[thread] < len(ops) else None

    def waiting_for(self, thread: str) -> str | None:
        """The lock the thread sleeps on, or None."""
        for name, st in self.locks.items():
            if any(t == thread for t, _ in st.waiters):
                return name
        return None

    def finished(self, thread: str) -> bool:
        """Whether the thread ran its whole path."""
        return self.next_op(thread) is None

    def can_step(self, thread: str) -> bool:
        """Whether the thread can run its next op now (not finished, not asleep on a lock)."""
        return not self.finished(thread) and self.waiting_for(thread) is None

    def _grantable(self, st: LockState, mode: str) -> bool:
        # no path takes a lock it already holds, so every holder is another thread
        return not any(_conflicts(mode, m) for m in st.holders.values()) and not st.waiters

    def step(self, thread: str) -> str:
        """Run the thread's next op: "done", "waits" (it now sleeps on the lock), or "blocked"/"finished"."""
        op = self.next_op(thread)
        if op is None:
            return "finished"
        if self.waiting_for(thread) is not None:
            return "blocked"
        if op.action == "acquire" and op.lock:
            st = self.lock(op.lock)
            if not self._grantable(st, op.mode):
                st.waiters.append((thread, op.mode))
                self.log.append((thread, op, "waits"))
                return "waits"
            st.holders[thread] = op.mode
        elif op.action == "release" and op.lock:
            st = self.lock(op.lock)
            del st.holders[thread]
            self._wake(st)
        self.pc[thread] += 1
        self.log.append((thread, op, "done"))
        return "done"

    def _wake(self, st: LockState) -> None:
        while st.waiters:
            thread, mode = st.waiters[0]
            if any(_conflicts(mode, m) for m in st.holders.values()):
                return
            st.waiters.pop(0)
            st.holders[thread] = mode
            op = self.paths[thread].ops[self.pc[thread]]  # a waiter sleeps on its acquire, which is its next op
            self.pc[thread] += 1
            self.log.append((thread, op, "done"))

    def wait_for_graph(self) -> dict[str, set[str]]:
        """Sleeping thread -> the threads it waits for: conflicting holders and everyone queued ahead of it."""
        graph: dict[str, set[str]] = {}
        for st in self.locks.values():
            for i, (thread, mode) in enumerate(st.waiters):
                blockers = {t for t, m in st.holders.items() if _conflicts(mode, m)}  # a waiter holds no instance
                blockers |= {t for t, _ in st.waiters[:i]}
                graph[thread] = blockers
        return graph

    def deadlock(self) -> list[str] | None:
        """A cycle of threads that wait for each other (then none of them can ever step), or None."""
        graph = self.wait_for_graph()

        def walk(node: str, stack: list[str]) -> list[str] | None:
            for nxt in sorted(graph.get(node, ())):
                if nxt in stack:
                    return stack[stack.index(nxt) :]
                if found := walk(nxt, [*stack, nxt]):
                    return found
            return None

        for start in sorted(graph):
            if cycle := walk(start, [start]):
                return cycle
        return None

    def state_key(self) -> tuple:
        """Everything that decides the future: program counters and lock states."""
        return (
            tuple(sorted(self.pc.items())),
            tuple(
                (name, tuple(sorted(st.holders.items())), tuple(st.waiters)) for name, st in sorted(self.locks.items())
            ),
        )


def run_schedule(paths: Iterable[Path], schedule: Iterable[str]) -> Interleaving:
    """Run the threads in the given order (one op per entry; entries for a thread that cannot step are skipped)."""
    run = Interleaving(paths)
    for thread in schedule:
        if run.can_step(thread):
            run.step(thread)
    return run


def reachable_deadlocks(paths: Iterable[Path]) -> list[list[str]]:
    """Explore every interleaving (depth-first over distinct states; finitely many, since every path is finite) and
    return the distinct deadlock cycles."""
    paths = list(paths)
    found: set[tuple[str, ...]] = set()
    seen: set[tuple] = set()
    stack: list[list[str]] = [[]]
    while stack:
        schedule = stack.pop()
        run = run_schedule(paths, schedule)
        key = run.state_key()
        if key in seen:
            continue
        seen.add(key)
        if cycle := run.deadlock():
            found.add(tuple(sorted(cycle)))
            continue
        stack += [[*schedule, t] for t in run.paths if run.can_step(t)]
    return [list(c) for c in sorted(found)]


#: The interleaving that hangs the old order: the fault takes mmap_lock, populate takes the invalidate lock, a
#: third thread's mmap() queues for mmap_lock, populate's GUP queues behind it, the fault waits for the
#: invalidate lock. Thread names are the paths' `thread`.
DEADLY_SCHEDULE: tuple[str, ...] = ("fault", *("populate",) * 4, "mmap()", "populate", "fault")
