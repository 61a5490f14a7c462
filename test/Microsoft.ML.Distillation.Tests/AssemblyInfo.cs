// Licensed under the MIT license. See LICENSE in the repository root.

// libtorch keeps process-wide state (threads, the default RNG) and the machines are small: tests run one at a time.
[assembly: DoNotParallelize]
