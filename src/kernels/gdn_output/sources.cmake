set(TGK_gdn_output_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/gdn_output.h)
