#include "image_codecs.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

static int fail(char *error, size_t size, const char *message) {
    snprintf(error, size, "%s", message);
    return CODEC_CORRUPT;
}

// Reports the size of an image too large to decode in *width and *height.
static int too_large(char *error, size_t size, unsigned w, unsigned h, size_t max_pixels, unsigned *width, unsigned *height) {
    snprintf(error, size, "%ux%u pixels is larger than the %zu-pixel limit", w, h, max_pixels);
    *width = w;
    *height = h;
    return CODEC_TOO_LARGE;
}

int codec_read_png(const unsigned char *bytes, size_t size, size_t max_pixels, unsigned char **pixels,
                   unsigned *width, unsigned *height, char *error, size_t error_size) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, bytes, size)) return fail(error, error_size, image.message);
    if ((size_t)image.width * image.height > max_pixels) {
        png_image_free(&image);
        return too_large(error, error_size, image.width, image.height, max_pixels, width, height);
    }
    image.format = PNG_FORMAT_GA;
    unsigned char *buffer = malloc(PNG_IMAGE_SIZE(image));
    if (!buffer) {
        png_image_free(&image);
        return fail(error, error_size, "out of memory");
    }
    if (!png_image_finish_read(&image, NULL, buffer, 0, NULL)) {
        free(buffer);
        return fail(error, error_size, image.message);
    }
    *pixels = buffer;
    *width = image.width;
    *height = image.height;
    return 0;
}

struct jpeg_failure {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

// libjpeg's default prints warnings to stderr; this one stays quiet, except for the two that
// mean the rest of the image would be made up: the data ends early (a truncated file), or a
// marker cuts the compressed data short (a damaged one). Those stop decoding at once, as errors:
// a few hundred bytes must not buy millions of invented pixels.
static void jpeg_warn(j_common_ptr info, int level) {
    if (level >= 0) return;
    struct jpeg_failure *failure = (struct jpeg_failure *)info->err;
    if (info->err->msg_code == JWRN_JPEG_EOF || info->err->msg_code == JWRN_HIT_MARKER) {
        snprintf(failure->message, sizeof failure->message, "%s",
                 info->err->msg_code == JWRN_JPEG_EOF ? "the JPEG data ends early (a truncated file)"
                                                       : "the JPEG data is cut short by a marker (a damaged file)");
        longjmp(failure->jump, 1);
    }
    info->err->num_warnings++;
}

// libjpeg's default error_exit calls exit(); this one jumps back to the caller instead.
static void jpeg_fail(j_common_ptr info) {
    struct jpeg_failure *failure = (struct jpeg_failure *)info->err;
    (*info->err->format_message)(info, failure->message);
    longjmp(failure->jump, 1);
}

int codec_read_jpeg(const unsigned char *bytes, size_t size, size_t max_pixels, unsigned char **pixels,
                    unsigned *width, unsigned *height, char *error, size_t error_size) {
    struct jpeg_decompress_struct info;
    struct jpeg_failure failure;
    unsigned char *volatile buffer = NULL;
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jpeg_fail;
    failure.manager.emit_message = jpeg_warn;
    if (setjmp(failure.jump)) {
        jpeg_destroy_decompress(&info);
        free(buffer);
        return fail(error, error_size, failure.message);
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, bytes, (unsigned long)size);
    jpeg_read_header(&info, TRUE);
    if ((size_t)info.image_width * info.image_height > max_pixels) {
        unsigned w = info.image_width, h = info.image_height;
        jpeg_destroy_decompress(&info);
        return too_large(error, error_size, w, h, max_pixels, width, height);
    }
    /* libjpeg turns gray, YCbCr and RGB into gray itself, but not CMYK or YCCK (print files):
       those are read as CMYK and turned into gray below. */
    int cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
    info.out_color_space = cmyk ? JCS_CMYK : JCS_GRAYSCALE;
    jpeg_start_decompress(&info);
    buffer = malloc((size_t)info.output_width * info.output_height * (cmyk ? 4 : 1));
    if (!buffer) {
        jpeg_destroy_decompress(&info);
        return fail(error, error_size, "out of memory");
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = buffer + (size_t)info.output_scanline * info.output_width * (cmyk ? 4 : 1);
        jpeg_read_scanlines(&info, &row, 1);
    }
    if (cmyk) {
        /* Adobe's files store the inks inverted (255: no ink), which is what saw_Adobe_marker
           says; then red = c k / 255 and so on, else (255 - c)(255 - k) / 255. Rec. 601 luma. */
        size_t count = (size_t)info.output_width * info.output_height;
        for (size_t i = 0; i < count; i++) {
            unsigned c = buffer[4 * i], m = buffer[4 * i + 1], y = buffer[4 * i + 2], k = buffer[4 * i + 3];
            if (!info.saw_Adobe_marker) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
            unsigned r = c * k / 255, g = m * k / 255, b = y * k / 255;
            buffer[i] = (unsigned char)((299 * r + 587 * g + 114 * b + 500) / 1000);
        }
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    *width = info.output_width;
    *height = info.output_height;
    *pixels = buffer;
    return 0;
}

int codec_encode_png(const unsigned char *pixels, unsigned width, unsigned height, int channels,
                     unsigned char **bytes, size_t *size, char *error, size_t error_size) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = width;
    image.height = height;
    image.format = channels == 3 ? PNG_FORMAT_RGB : channels == 2 ? PNG_FORMAT_GA : PNG_FORMAT_GRAY;
    png_alloc_size_t length = 0;
    if (!png_image_write_to_memory(&image, NULL, &length, 0, pixels, 0, NULL)) return fail(error, error_size, image.message);
    unsigned char *buffer = malloc(length);
    if (!buffer) return fail(error, error_size, "out of memory");
    if (!png_image_write_to_memory(&image, buffer, &length, 0, pixels, 0, NULL)) {
        free(buffer);
        return fail(error, error_size, image.message);
    }
    *bytes = buffer;
    *size = length;
    return 0;
}

int codec_encode_jpeg(const unsigned char *pixels, unsigned width, unsigned height, int quality,
                      unsigned char **bytes, size_t *size, char *error, size_t error_size) {
    struct jpeg_compress_struct info;
    struct jpeg_failure failure;
    unsigned char *volatile buffer = NULL;
    unsigned long length = 0;
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jpeg_fail;
    if (setjmp(failure.jump)) {
        jpeg_destroy_compress(&info);
        free(buffer);
        return fail(error, error_size, failure.message);
    }
    jpeg_create_compress(&info);
    jpeg_mem_dest(&info, (unsigned char **)&buffer, &length);
    info.image_width = width;
    info.image_height = height;
    info.input_components = 1;
    info.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality, TRUE);
    jpeg_start_compress(&info, TRUE);
    while (info.next_scanline < info.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)info.next_scanline * width);
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    *bytes = buffer;
    *size = length;
    return 0;
}

void codec_free(void *pointer) { free(pointer); }
