// PNG and JPEG through the system's libpng and libjpeg, behind calls that cannot longjmp into
// Swift: every function returns 0 on success, or a CODEC_ status with a message in `error`.
#ifndef IMAGE_CODECS_H
#define IMAGE_CODECS_H

#include <stddef.h>

/// The data is not a valid image of its format (or memory ran out).
#define CODEC_CORRUPT (-1)
/// The image has more than max_pixels pixels; it was not decoded.
#define CODEC_TOO_LARGE (-2)

/// Decodes a PNG in memory, of any bit depth and color type, as 8-bit gray + alpha pairs
/// (*pixels, to free with codec_free). Refuses images of more than max_pixels before decoding them.
int codec_read_png(const unsigned char *bytes, size_t size, size_t max_pixels, unsigned char **pixels,
                   unsigned *width, unsigned *height, char *error, size_t error_size);

/// Decodes a JPEG in memory as 8-bit gray (*pixels, to free with codec_free).
int codec_read_jpeg(const unsigned char *bytes, size_t size, size_t max_pixels, unsigned char **pixels,
                    unsigned *width, unsigned *height, char *error, size_t error_size);

/// Encodes 8-bit gray (channels 1), gray + alpha (2) or RGB (3) pixels as a PNG in memory
/// (*bytes, *size; free *bytes with codec_free).
int codec_encode_png(const unsigned char *pixels, unsigned width, unsigned height, int channels,
                     unsigned char **bytes, size_t *size, char *error, size_t error_size);

/// Encodes 8-bit gray pixels as a baseline JPEG of the given quality (1-100) in memory.
int codec_encode_jpeg(const unsigned char *pixels, unsigned width, unsigned height, int quality,
                      unsigned char **bytes, size_t *size, char *error, size_t error_size);

void codec_free(void *pointer);

#endif
