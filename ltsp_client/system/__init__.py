"""OS adapters shared by the boot stages and the plugins: mounts, loop devices, kernel
modules, file-system probing, netlink, kernel file systems and network facts."""
