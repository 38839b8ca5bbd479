"""Linux: the KVM ioctls of a TDX VM, guest_memfd, the TDP MMU, and the slice of mm they rely on."""
