# The extension API in the wheel (included from CMakeLists.txt when the Python module
# is built): headers under fastsync/include/fastsync, libfastsync under fastsync/lib,
# and a CMake package under fastsync/share/cmake/fastsync, so that an out-of-tree
# project does find_package(fastsync CONFIG) with
# -Dfastsync_DIR=$(python -m fastsync --cmake-dir) and links fastsync::fastsync.
#
# The stable API (docs/extensions.md) is FASTSYNC_PUBLIC_HEADERS; the others are
# installed only because those include them, and may change between versions.
set(FASTSYNC_PUBLIC_HEADERS
  array.h dtype.h device.h stream.h errors.h primitive.h transforms.h autodiff.h vmap.h ops/ops.h
  backend/cpu/encoder.h backend/cpu/utils.h)
set(FASTSYNC_PUBLIC_CUDA_HEADERS backend/cuda/encoder.h backend/cuda/runtime.h)
set(FASTSYNC_INCLUDED_HEADERS
  allocator.h complex.h event.h scheduler.h sync.h task.h timeline.h
  backend/backend.h backend/common/host_device.h
  backend/cuda/call_graphs.h backend/cuda/graph.h backend/cuda/probes.h
  backend/cuda/signal.h)
foreach(_h ${FASTSYNC_PUBLIC_HEADERS} ${FASTSYNC_PUBLIC_CUDA_HEADERS} ${FASTSYNC_INCLUDED_HEADERS})
  get_filename_component(_dir "${_h}" DIRECTORY)
  install(FILES src/${_h} DESTINATION fastsync/include/fastsync/${_dir})
endforeach()
install(FILES python/src/stream_arg.h DESTINATION fastsync/include/fastsync/python)

# What an extension must agree on with this build: the CUDA backend (eval_gpu
# is declared only with it) and nanobind's version (one nanobind domain: arrays
# cross module boundaries only between modules with the same nanobind ABI).
set(FASTSYNC_CONFIG_DEFINITIONS "")
if(FASTSYNC_WITH_CUDA)
  list(APPEND FASTSYNC_CONFIG_DEFINITIONS FASTSYNC_CUDA=1)
endif()
if(FASTSYNC_BUILD_TESTS)
  list(APPEND FASTSYNC_CONFIG_DEFINITIONS FASTSYNC_TEST_HOOKS=1)
endif()
# The package's version, from pyproject.toml through scikit-build-core (a plain
# CMake build of the module has none).
if(DEFINED SKBUILD_PROJECT_VERSION)
  set(FASTSYNC_VERSION ${SKBUILD_PROJECT_VERSION})
else()
  set(FASTSYNC_VERSION 0.0.0)
endif()
include(CMakePackageConfigHelpers)
set(FASTSYNC_LIBRARY_FILE
  ${CMAKE_SHARED_LIBRARY_PREFIX}fastsync${CMAKE_SHARED_LIBRARY_SUFFIX})
configure_file(cmake/fastsyncConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/fastsyncConfig.cmake @ONLY)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/fastsyncConfigVersion.cmake
  VERSION ${FASTSYNC_VERSION} COMPATIBILITY ExactVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/fastsyncConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/fastsyncConfigVersion.cmake
  DESTINATION fastsync/share/cmake/fastsync)
