"""Learned generators (MONAI): train a generator on images, sample labelled datasets.

``synthmed train --model ddpm --data DIR -o model/`` trains on a synthmed dataset or a folder
of images (+ ``labels.csv``); ``synthmed sample model/ -o out/ -n N --class NAME`` writes a
normal synthmed dataset. Needs ``pip install 'synthmed[learned]'`` (torch, monai); nothing is
downloaded. Modules: :mod:`.data` (training images and labels), :mod:`.models` (configs and
networks: ``ddpm``, ``vae``, ``ldm``, ``gan``), :mod:`.autoencoder` (the vae/ldm autoencoder's
loss, encoding, decoding), :mod:`.gan` (the GAN's networks, losses and step), :mod:`.train`
(training loop, checkpoints, model card), :mod:`.sample` (sampling and writing datasets).
"""

from __future__ import annotations
