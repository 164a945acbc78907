# libgreenpatch-gdb.py: green threads in gdb, for programs run with libgreenpatch.so.
#
#   info green-threads        every green thread: id, name, state, what it waits on and
#                             for how long, its carrier and kernel thread (LWP)
#   green-thread N            select green thread N: bt, frame, up, info locals then
#                             show its stack (N: an id, "main" or "hub")
#   green-thread N CMD...     run a gdb command with N selected, then select what was
#                             selected before (green-thread 5 bt full)
#   green-thread off          the carrier's kernel thread shows its own stack again
#
# Installed, gdb loads it with the library (auto-load: <datadir>/gdb/auto-load<libdir>/
# greenpatch/libgreenpatch.so-gdb.py); from a source tree, `source scripts/libgreenpatch-gdb.py`;
# `greenpatch gdb PID` does either. See libgreenpatch(7), GDB.
#
# What it reads is the library's exported object greenpatch_debug (core/debug.h): the
# version of its layout, where the carriers are, and the offsets of the fields of a green
# thread, a carrier and a kernel thread, so that neither the library's debug information
# nor its internal layout is needed (Debian strips the library; its dynamic symbols and
# .eh_frame stay).
#
# How a parked thread's stack is shown: a parked (or runnable) green thread is a saved
# context, its registers kept where the context switch left them. Selecting it turns on
# an unwinder (gdb's Python unwinder API) for the innermost frame of its carrier's kernel
# thread, whose caller it says is the parked thread's resumption point, with the saved
# registers. gdb's own unwinder (DWARF CFI) takes it from there: file:line, arguments,
# locals, frame, up, down. Frame #0 stays the kernel thread's real innermost frame,
# shown by bt as a marker line. Nothing is written to the process, so it works the same
# on a live process and on a core file, where registers cannot be written. A running
# green thread is simply its kernel thread: selecting it selects that thread.
#
# What does not work, or differs, on a core file: how long a thread has waited is
# counted to the scheduler's last reading of the clock, not to when the core was written;
# gcore leaves out the stacks after a guard region (Linux 6.13+ gives them; a core the
# kernel writes has every stack, and so does gcore's of a program run with
# GREENPATCH_STACK_GUARD=mprotect). Live or not, step, finish and call act on the kernel
# thread, not on a parked green thread; on aarch64, d8-d15 of a parked thread's frames
# are not recovered.

import struct
import time

import gdb
import gdb.unwinder
from gdb.FrameDecorator import FrameDecorator

SYMBOL = "greenpatch_debug"
VERSION = 1

# struct gp_debug, version 1 (core/debug.h): name and struct format of each field in
# order, little-endian, with C's padding made explicit.
_LAYOUT_V1 = (
    ("version", "I"), ("size", "I"), ("arch", "Q"),
    ("carriers", "Q"), ("ncarriers", "I"), ("carrier_stride", "I"),
    ("carrier_current", "I"), ("carrier_all", "I"), ("carrier_owner", "I"),
    ("carrier_first", "I"), ("carrier_hub", "I"), ("carrier_clock_ns", "I"),
    ("kthread_tid", "I"),
    ("green_magic", "I"), ("green_magic_value", "Q"),
    ("green_id", "I"), ("green_handle", "I"), ("green_name", "I"),
    ("green_name_size", "I"), ("green_state", "I"), ("green_waits_for", "I"),
    ("green_wait_obj", "I"), ("green_parked_ns", "I"), ("green_all_next", "I"),
    ("green_ctx", "I"), ("green_m", "I"), ("green_handed_off", "I"),
    ("green_is_hub", "I"), ("green_is_main", "I"),
    ("state_names", "Q"), ("nstates", "I"),
    ("ctx_kind", "I"), ("ctx_sp", "I"), ("frame_size", "I"),
    ("regs", "Q"), ("nregs", "I"),
    ("mutex_owner_tid", "I"), ("mutex_owner_green", "I"),
)
_FORMAT_V1 = "<" + "".join(t for _, t in _LAYOUT_V1)

CTX_FRAME, CTX_UCONTEXT = 1, 2
NONE = 0xFFFFFFFF
MAX_THREADS = 10000000      # a list damaged in a core must not loop for ever
# The least thread id glibc records for a green thread or a hub (core/tls.h): ids of
# their own, above any kernel thread's; the first thread keeps its kernel id.
GREEN_TID_LEAST = 0x20000000 - 1024

# Per architecture: gdb's names of the stack pointer and the program counter.
_SP_PC = {"x86_64": ("rsp", "rip"), "aarch64": ("sp", "pc")}


class GreenError(gdb.GdbError):
    pass


# ---- reading the process or the core ------------------------------------------------

def _mem(addr, size):
    try:
        return bytes(gdb.selected_inferior().read_memory(addr, size))
    except gdb.MemoryError as e:
        raise GreenError("cannot read %d bytes at 0x%x: %s" % (size, addr, e))


def _u64(addr):
    return struct.unpack("<Q", _mem(addr, 8))[0]


def _i64(addr):
    return struct.unpack("<q", _mem(addr, 8))[0]


def _u32(addr):
    return struct.unpack("<I", _mem(addr, 4))[0]


def _i32(addr):
    return struct.unpack("<i", _mem(addr, 4))[0]


def _u8(addr):
    return _mem(addr, 1)[0]


def _cstring(addr, limit=256):
    """The NUL-terminated string at addr, read a little at a time (it may end a page)."""
    if not addr:
        return None
    out = b""
    while len(out) < limit:
        try:
            chunk = _mem(addr + len(out), 16)
        except GreenError:
            chunk = _mem(addr + len(out), 1)
        end = chunk.find(b"\0")
        if end >= 0:
            return (out + chunk[:end]).decode("utf-8", "replace")
        out += chunk
    return out.decode("utf-8", "replace")


# ---- the debug structure ------------------------------------------------------------

class Debug:
    """struct gp_debug of the library loaded in the selected inferior."""

    def __init__(self):
        self.addr = self._find()
        head = _mem(self.addr, 8)
        version, size = struct.unpack("<II", head)
        if version != VERSION:
            raise GreenError(
                "%s at 0x%x has version %d; this extension reads version %d: use the "
                "libgreenpatch-gdb.py that comes with the library"
                % (SYMBOL, self.addr, version, VERSION))
        need = struct.calcsize(_FORMAT_V1)
        if size < need:
            raise GreenError("%s at 0x%x is %d bytes, too short for version %d (%d)"
                             % (SYMBOL, self.addr, size, VERSION, need))
        values = struct.unpack(_FORMAT_V1, _mem(self.addr, need))
        for (name, _), value in zip(_LAYOUT_V1, values):
            setattr(self, name, value)
        self.arch_name = _cstring(self.arch)
        if self.arch_name not in _SP_PC:
            raise GreenError("%s: unknown architecture %r" % (SYMBOL, self.arch_name))
        self.sp_name, self.pc_name = _SP_PC[self.arch_name]
        self.state_list = [_cstring(_u64(self.state_names + 8 * i))
                           for i in range(self.nstates)]
        self.reg_list = []
        for i in range(self.nregs):
            name_at, offset, rsize = struct.unpack("<QII", _mem(self.regs + 16 * i, 16))
            self.reg_list.append((_cstring(name_at), offset, rsize))

    @staticmethod
    def _find():
        # By its minimal (dynamic) symbol, in whichever objfile has it: no debug
        # information is needed.
        try:
            return int(gdb.parse_and_eval("(unsigned long)&'%s'" % SYMBOL))
        except gdb.error:
            raise GreenError(
                "no %s in this program: libgreenpatch.so is not loaded (or is older than "
                "its gdb extension), or the program has not started" % SYMBOL)

    def carriers_list(self):
        return [Carrier(self, self.carriers + i * self.carrier_stride)
                for i in range(self.ncarriers)]


class Carrier:
    def __init__(self, dbg, addr):
        self.dbg, self.addr = dbg, addr
        self.index = (addr - dbg.carriers) // dbg.carrier_stride
        self.current = _u64(addr + dbg.carrier_current)
        owner = _u64(addr + dbg.carrier_owner)
        self.first_tid = _i32(addr + dbg.carrier_first + dbg.kthread_tid)
        self.owner_tid = _i32(owner + dbg.kthread_tid) if owner else self.first_tid
        self.clock_ns = _i64(addr + dbg.carrier_clock_ns)
        self.hub = addr + dbg.carrier_hub

    def threads(self):
        """Every thread object of the carrier, and its hub last."""
        dbg, g, n = self.dbg, _u64(self.addr + self.dbg.carrier_all), 0
        while g and n < MAX_THREADS:
            if _u64(g + dbg.green_magic) != dbg.green_magic_value:
                gdb.write("warning: the list of green threads ends at 0x%x, which is not "
                          "a thread\n" % g)
                break
            yield Green(self, g)
            g = _u64(g + dbg.green_all_next)
            n += 1
        yield Green(self, self.hub)


class Green:
    def __init__(self, carrier, addr):
        dbg = carrier.dbg
        self.carrier, self.dbg, self.addr = carrier, dbg, addr
        self.is_hub = bool(_u8(addr + dbg.green_is_hub))
        self.is_main = bool(_u8(addr + dbg.green_is_main))
        self.id = _u64(addr + dbg.green_id)
        self.name = _mem(addr + dbg.green_name, dbg.green_name_size).split(b"\0")[0] \
            .decode("utf-8", "replace")
        state = _i32(addr + dbg.green_state)
        self.state = dbg.state_list[state] if 0 <= state < len(dbg.state_list) else "?"
        self.handed_off = bool(_u8(addr + dbg.green_handed_off))
        m = _u64(addr + dbg.green_m)
        self.lwp = None
        if self.handed_off and m:
            self.lwp = _i32(m + dbg.kthread_tid)
            self.state = "running"
        else:
            # With several carriers the list is the first one's: a thread runs on
            # whichever carrier has it as its current thread.
            on = [c for c in dbg.carriers_list() if addr == c.current]
            if on:
                self.lwp = on[0].owner_tid
                self.state = "running"
            elif self.is_hub:
                self.state = "idle"     # resumed when its carrier has work again
        self.waits_for = _cstring(_u64(addr + dbg.green_waits_for))
        self.wait_obj = _u64(addr + dbg.green_wait_obj)
        self.parked_ns = _i64(addr + dbg.green_parked_ns)

    @property
    def label(self):
        return "hub" if self.is_hub else str(self.id)

    @property
    def title(self):
        if self.is_hub:
            return "green thread hub (the event loop), %s" % self.state
        return 'green thread %d "%s", %s' % (self.id, self.name, self.state)

    def describe_wait(self):
        """What a parked thread waits on, as the library's dump says it."""
        what = self.waits_for or "?"
        obj = self.wait_obj
        if what == "mutex" and obj:
            return self._describe_mutex(obj)
        if what == "join" and obj:
            try:
                t = Green(self.carrier, obj)
                return 'the end of thread %d "%s"' % (t.id, t.name)
            except GreenError:
                pass
        return "%s 0x%x" % (what, obj) if obj else what

    def _describe_mutex(self, m):
        dbg = self.dbg
        if dbg.mutex_owner_tid == NONE or dbg.mutex_owner_green == NONE:
            return "mutex 0x%x" % m
        tid = _i32(m + dbg.mutex_owner_tid)
        if not tid:
            return "mutex 0x%x (free)" % m
        if tid != self.carrier.first_tid and tid < GREEN_TID_LEAST:
            return "mutex 0x%x held by kernel thread %d" % (m, tid)
        owner = _u64(m + dbg.mutex_owner_green)
        if not owner:
            owner = self._main()
        if owner:
            o = Green(self.carrier, owner)
            return 'mutex 0x%x held by thread %d "%s"' % (m, o.id, o.name)
        return "mutex 0x%x" % m

    def _main(self):
        for t in self.carrier.threads():
            if t.is_main:
                return t.addr
        return 0

    def saved_registers(self):
        """{gdb register name: value} of the switched-out context, the sp included."""
        dbg = self.dbg
        ctx = self.addr + dbg.green_ctx
        regs = {}
        if dbg.ctx_kind == CTX_FRAME:
            base = _u64(ctx + dbg.ctx_sp)
            if not base:
                raise GreenError("thread %s has no saved context" % self.label)
            regs[dbg.sp_name] = base + dbg.frame_size
        elif dbg.ctx_kind == CTX_UCONTEXT:
            base = ctx
        else:
            raise GreenError("unknown kind of context %d" % dbg.ctx_kind)
        for name, offset, size in dbg.reg_list:
            regs[name] = _u64(base + offset) if size == 8 else _u32(base + offset)
        if not regs.get(dbg.pc_name):
            raise GreenError(
                "the stack of %s is not here%s" % (self.title, "" if _is_live() else
                ": gcore stops copying a mapping at a guard region (Linux 6.13 and "
                "later); run the program with GREENPATCH_STACK_GUARD=mprotect, or use a "
                "core file the kernel wrote"))
        return regs


def _all_threads(dbg):
    for c in dbg.carriers_list():
        for g in c.threads():
            yield g


def _find_thread(dbg, which):
    for g in _all_threads(dbg):
        if (which == "hub" and g.is_hub) or (which == "main" and g.is_main) or \
                (not g.is_hub and which == str(g.id)):
            return g
    raise GreenError("no green thread %s (see info green-threads)" % which)


# ---- time -----------------------------------------------------------------------------

def _is_live():
    conn = getattr(gdb.selected_inferior(), "connection", None)
    return conn is not None and getattr(conn, "type", "") == "native"


def _now_ns(dbg):
    """CLOCK_MONOTONIC_COARSE now: the machine's in a live process, the runtime's last
    reading in a core (the time the core was written is not in it)."""
    if _is_live():
        return time.clock_gettime_ns(getattr(time, "CLOCK_MONOTONIC_COARSE", 6))
    return max((c.clock_ns for c in dbg.carriers_list()), default=0)


def _duration(ns):
    s = ns / 1e9
    if s < 0:
        return "-"
    if s < 100:
        return "%.1f s" % s
    if s < 6000:
        return "%.1f min" % (s / 60)
    return "%.1f h" % (s / 3600)


# ---- selecting a green thread -----------------------------------------------------------

class _Selection:
    """The green thread whose context the carrier's kernel thread shows, if any."""
    thread = None     # the Green
    gdb_thread = None  # the gdb.InferiorThread of its carrier's kernel thread
    regs = None


def _gdb_thread_of(lwp):
    for t in gdb.selected_inferior().threads():
        if t.ptid[1] == lwp or (t.ptid[1] == 0 and t.ptid[0] == lwp):
            return t
    raise GreenError("kernel thread %d is not a thread of this process in gdb" % lwp)


class GreenUnwinder(gdb.unwinder.Unwinder):
    """While a switched-out green thread is selected: the caller of the innermost frame of
    its carrier's kernel thread is where that thread will resume."""

    def __init__(self):
        super().__init__("libgreenpatch")

    def __call__(self, pending_frame):
        sel = _Selection
        if sel.thread is None or pending_frame.level() != 0:
            return None
        if gdb.selected_thread() != sel.gdb_thread:
            return None
        dbg = sel.thread.dbg
        pc = pending_frame.read_register(dbg.pc_name)
        sp_type = pending_frame.read_register(dbg.sp_name).type
        # Its id's stack address is below the resumed frame's, as a callee's would be:
        # gdb stops a backtrace whose frames go the wrong way.
        info = pending_frame.create_unwind_info(
            _FrameId(gdb.Value(sel.regs[dbg.sp_name]).cast(sp_type), pc))
        for name, value in sel.regs.items():
            reg_type = pending_frame.read_register(name).type
            info.add_saved_register(name, gdb.Value(value).cast(reg_type))
        return info


class _FrameId:
    def __init__(self, sp, pc):
        self.sp, self.pc = sp, pc


class _MarkerDecorator(FrameDecorator):
    """bt's line for the kernel thread's own innermost frame while a green thread shows."""

    def __init__(self, fobj, green):
        super().__init__(fobj)
        self.green = green

    def function(self):
        return "[%s: the frames below are its own]" % self.green.title

    def address(self):
        return None

    def filename(self):
        return None

    def line(self):
        return None

    def frame_args(self):
        return None

    def frame_locals(self):
        return None


class GreenFrameFilter:
    def __init__(self):
        self.name = "libgreenpatch"
        self.enabled = True
        self.priority = 100

    def filter(self, frames):
        sel = _Selection
        for f in frames:
            if sel.thread is not None and f.inferior_frame().level() == 0 and \
                    gdb.selected_thread() == sel.gdb_thread:
                yield _MarkerDecorator(f, sel.thread)
            else:
                yield f


def _flush_frames():
    # gdb.invalidate_cached_frames() alone keeps the unwinder chosen for the innermost
    # frame (gdb 13); flushing the registers makes gdb choose again.
    gdb.execute("maintenance flush register-cache", to_string=True)


def _deselect():
    if _Selection.thread is not None:
        _Selection.thread = _Selection.gdb_thread = _Selection.regs = None
        _flush_frames()


def _select(g):
    """Show g's stack: its own kernel thread if it runs, else its saved context."""
    _deselect()
    if g.lwp is not None:
        _gdb_thread_of(g.lwp).switch()
        return
    if g.state == "done":
        raise GreenError("%s: its stack is gone" % g.title)
    regs = g.saved_registers()
    t = _gdb_thread_of(g.carrier.owner_tid)
    t.switch()
    _Selection.thread, _Selection.gdb_thread, _Selection.regs = g, t, regs
    _flush_frames()
    resumed = gdb.newest_frame().older()
    if resumed is not None:
        resumed.select()


def _on_resume(_event):
    _deselect()


# ---- commands -----------------------------------------------------------------------------

class InfoGreenThreads(gdb.Command):
    """List the green threads of libgreenpatch.so: id, name, state, what a parked thread
waits on and for how long, and the carrier and kernel thread (LWP) it is on.
A running thread is on a kernel thread; a parked or runnable one is a context saved
on its carrier, shown with "green-thread ID bt". * marks the thread green-thread selected."""

    def __init__(self):
        super().__init__("info green-threads", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        dbg = Debug()
        carriers = dbg.carriers_list()
        if not carriers:
            gdb.write("no green threads: the program has not created a thread\n")
            return
        now, live = _now_ns(dbg), _is_live()
        threads = sorted(_all_threads(dbg), key=lambda g: (g.is_hub, g.id))
        gdb.write("%d green threads on %d carrier%s (kernel thread %s)%s\n" % (
            sum(1 for g in threads if not g.is_hub), len(carriers),
            "" if len(carriers) == 1 else "s",
            ", ".join(str(c.owner_tid) for c in carriers),
            "" if live else "; times until the scheduler last read the clock"))
        gdb.write("  %-6s %-16s %-9s %-8s %-8s %s\n"
                  % ("Id", "Name", "State", "Carrier", "LWP", "Waits for"))
        for g in threads:
            self._line(g, now)

    @staticmethod
    def _line(g, now):
        mark = "*" if _Selection.thread is not None and _Selection.thread.addr == g.addr \
            else " "
        role = " (main)" if g.is_main else " (event loop)" if g.is_hub else ""
        carrier = "-" if g.handed_off else str(g.carrier.index)
        lwp = str(g.lwp) if g.lwp is not None else "-"
        wait = ""
        if g.state == "parked":
            wait = g.describe_wait()
            if g.parked_ns:
                wait += ", for " + _duration(now - g.parked_ns)
        elif g.handed_off:
            wait = "(handed off: runs on a kernel thread of its own)"
        gdb.write("%s %-6s %-16s %-9s %-8s %-8s %s%s\n" % (
            mark, g.label, '"%s"' % g.name if g.name else "-", g.state, carrier, lwp,
            wait, role))


class GreenThread(gdb.Command):
    """Select a green thread of libgreenpatch.so, or run a command with it selected.
green-thread ID          select it: bt, frame, up, down, info locals show its stack
green-thread ID COMMAND  run COMMAND with it selected (green-thread 12 bt full), then
                         select the kernel thread and frame selected before
green-thread off         the carrier's kernel thread shows its own stack again
green-thread             which green thread is selected
ID is a number from info green-threads, "main" or "hub". A running thread is its
kernel thread; a parked or runnable one shows its saved context, below a marker
frame #0 that is its carrier's real innermost frame. The selection ends when the
program resumes."""

    def __init__(self):
        super().__init__("green-thread", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        words = arg.split(None, 1)
        if not words:
            sel = _Selection.thread
            gdb.write("no green thread selected\n" if sel is None else
                      "%s is selected\n" % sel.title)
            return
        if words[0] == "off":
            _deselect()
            return
        g = _find_thread(Debug(), words[0])
        if len(words) == 1:
            _select(g)
            gdb.execute("frame", from_tty)
            return
        self._apply(g, words[1], from_tty)

    @staticmethod
    def _apply(g, command, from_tty):
        before = gdb.selected_thread()
        frame_level = gdb.selected_frame().level() if before is not None else None
        sel = (_Selection.thread, _Selection.gdb_thread, _Selection.regs)
        try:
            _select(g)
            gdb.write("[%s]\n" % g.title)
            gdb.execute(command, from_tty)
        finally:
            _deselect()
            _Selection.thread, _Selection.gdb_thread, _Selection.regs = sel
            _flush_frames()
            if before is not None and before.is_valid():
                before.switch()
                gdb.execute("frame %d" % frame_level, to_string=True)


def _register():
    gdb.unwinder.register_unwinder(None, GreenUnwinder(), replace=True)
    gdb.frame_filters["libgreenpatch"] = GreenFrameFilter()
    InfoGreenThreads()
    GreenThread()
    if not getattr(gdb, "_libgreenpatch_cont_hook", False):
        gdb.events.cont.connect(_on_resume)
        gdb._libgreenpatch_cont_hook = True


_register()
