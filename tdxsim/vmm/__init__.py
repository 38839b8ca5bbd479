"""Userspace: the VMM process that opens /dev/kvm and drives the stack below, as QEMU does."""
