"""NASNet-A and PNASNet-5, as research/slim's ``nets.nasnet`` package.

``from jacktf.backbones.nasnet import nasnet, pnasnet, nasnet_utils`` replaces
``from nets.nasnet import nasnet, pnasnet, nasnet_utils``; ``family`` registers the
jacktf backbones ``nasnet_mobile``, ``nasnet_large``, ``pnasnet_mobile`` and
``pnasnet_large``. See docs/guides/nasnet.md.
"""
