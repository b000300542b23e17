"""Sample quality: FID and KID on pytorch-fid's Inception features, and reference statistics in its
``.npz`` layout (``mubench fid``, ``mubench fid-ref``)."""
