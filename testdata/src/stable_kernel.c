/* A torch stable-ABI kernel: it uses only torch's C shim. Its twin, built with
 * -DSLIP_IN_CXX, also calls a c10 C++ constructor, as a stray header include
 * does, which ties it to one torch release. Neither links torch: the
 * imports are what the check reads. */
typedef void *AtenTensorHandle;
extern int aoti_torch_get_data_ptr(AtenTensorHandle tensor, void **data);
extern int aoti_torch_delete_tensor_object(AtenTensorHandle tensor);
#ifdef SLIP_IN_CXX
extern void register_operators(void *self) __asm__("_ZN3c1017RegisterOperatorsC1Ev");
#endif

int kernel_entry(AtenTensorHandle tensor, void **data) {
#ifdef SLIP_IN_CXX
    char guard[8];
    register_operators(guard);
#endif
    aoti_torch_get_data_ptr(tensor, data);
    return aoti_torch_delete_tensor_object(tensor);
}
