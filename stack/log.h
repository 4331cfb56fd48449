/* Logging to stderr, prefixed "ustack: ", filtered by USTACK_LOG. */
#ifndef USTACK_LOG_H
#define USTACK_LOG_H

#include "ustack/ustack.h"

extern enum us_log_level us_log_threshold;

void us_log(enum us_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_ERR(...)  us_log(US_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) us_log(US_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) do { if (us_log_threshold >= US_LOG_INFO) us_log(US_LOG_INFO, __VA_ARGS__); } while (0)
#define LOG_DEBUG(...) do { if (us_log_threshold >= US_LOG_DEBUG) us_log(US_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
