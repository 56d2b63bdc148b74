# extjs_enter: the first thing every export does (see extism_runtime.c,
# "aborted calls"). Exports are never nested, so the stack pointer belongs at
# the top of the stack at entry; after a trap it is wherever the dead call left
# it. extjs_recover runs first, still below the dead call's frames (it reads
# them), then the pointer goes back to the top.
	.globaltype __stack_pointer, i32
	.functype extjs_recover (i32) -> ()
	.globl extjs_enter
	.type extjs_enter,@function
extjs_enter:
	.functype extjs_enter () -> ()
	global.get __stack_pointer
	call extjs_recover
	i32.const __stack_high
	global.set __stack_pointer
	end_function
