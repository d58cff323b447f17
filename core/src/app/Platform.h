// The one seam for what the process itself does differently per operating system: malloc
// tuning, signal set-up, the open-file limit and waiting for a stop or reload request. POSIX
// today (Platform.cpp); a Windows port adds its own implementation of these four functions
// (docs/windows.md).
#pragma once

namespace switchboard::platform {

/// What the main loop was asked to do.
enum class Request { Reload, Stop };

/// First thing in main(): process-wide allocator settings.
void tuneProcess();
/// Before any thread exists: SIGHUP, SIGINT, SIGTERM and SIGQUIT blocked in every thread (so
/// only waitForRequest() sees them), SIGPIPE ignored, the open-file limit raised to the hard
/// limit.
void prepareMainThread();
/// Blocks until a stop or reload is requested (SIGHUP: Reload; SIGINT, SIGTERM, SIGQUIT:
/// Stop). `signal` is set to the signal number, for the log.
Request waitForRequest(int& signal);

}  // namespace switchboard::platform
