"""A coach's profile photo: an upload checked and made safe with Pillow.

What comes in is whatever a browser sent. What is kept is always a fresh, square JPEG of
PHOTO_SIZE pixels that we encoded ourselves: no EXIF (camera, GPS position, date), no ICC
profile, no comments, no second frame, whatever the upload carried. Only the JPEG, PNG and
WebP decoders are tried, and an image whose header claims more than PHOTO_MAX_PIXELS is
refused before any pixel is decoded (a small file can declare a huge image).
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError

from .limits import PHOTO_MAX_PIXELS, PHOTO_SIZE, PHOTO_UPLOAD_MAX_BYTES

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
NOT_AN_IMAGE = "The photo must be a JPEG, PNG or WebP image"
TOO_BIG = f"The photo must be smaller than {PHOTO_UPLOAD_MAX_BYTES // (1024 * 1024)} MB"
TOO_MANY_PIXELS = (
    "The photo is too large in pixels: use one under "
    f"{PHOTO_MAX_PIXELS // 1_000_000} megapixels (a phone photo is about 12)"
)
EMPTY = "The photo file is empty"


class PhotoProblem(Exception):
    """An upload we will not keep; the message says why, for the field's error."""


@dataclass(frozen=True)
class Photo:
    jpeg: bytes
    digest: str  # sha256 of the JPEG, hex: part of the photo's URL


def prepare_photo(upload: bytes) -> Photo:
    """The upload as a square PHOTO_SIZE JPEG without metadata, or PhotoProblem."""
    if not upload:
        raise PhotoProblem(EMPTY)
    if len(upload) > PHOTO_UPLOAD_MAX_BYTES:
        raise PhotoProblem(TOO_BIG)
    with warnings.catch_warnings():
        # Pillow's own bomb check warns first (an error under pytest); ours is stricter anyway.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image: Image.Image = Image.open(BytesIO(upload), formats=ACCEPTED_FORMATS)
            if image.width * image.height > PHOTO_MAX_PIXELS:
                raise PhotoProblem(TOO_MANY_PIXELS)
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise PhotoProblem(TOO_MANY_PIXELS) from error
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as error:
            # Not one of the three formats, or a truncated or corrupt file.
            raise PhotoProblem(NOT_AN_IMAGE) from error
        # A phone photo is stored sideways with an EXIF note to turn it: turn it now, as the
        # note itself is not kept.
        image = ImageOps.exif_transpose(image)
    image = _on_white(image)
    square = ImageOps.fit(
        image, (PHOTO_SIZE, PHOTO_SIZE), Image.Resampling.LANCZOS, centering=(0.5, 0.4)
    )
    out = BytesIO()
    # No exif=, icc_profile= or comment=: the new file carries none of the upload's metadata.
    square.save(out, "JPEG", quality=85, optimize=True, progressive=False)
    jpeg = out.getvalue()
    return Photo(jpeg=jpeg, digest=hashlib.sha256(jpeg).hexdigest())


def _on_white(image: Image.Image) -> Image.Image:
    """RGB, with any transparency laid over white (JPEG has none)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
