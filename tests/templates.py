"""Chat templates in each family's published wire format, written for the tests.

They are our own small Jinja templates that render tool schemas, past calls, tool results and the
generation prompt the way each family's published template does (the details that matter for
format detection and prompt prefix reuse); they are not the vendors' files.
"""

from __future__ import annotations

import re


def _keep_newlines(template: str) -> str:
    """Newlines in the literal text become expressions, as the published templates write them:
    chat templates render with trim_blocks and `{%-` tags, which would eat literal ones."""
    parts = re.split(r"({{.*?}}|{%.*?%})", template, flags=re.DOTALL)
    return "".join(p if p.startswith(("{{", "{%")) else p.replace("\n", "{{ '\\n' }}") for p in parts)


_TOOLS_JSON = "{%- for tool in tools %}{{ tool | tojson }}\n{%- endfor %}"

QWEN25 = (
    "{%- if tools %}<|im_start|>system\n{{ messages[0].content }}\n\n# Tools\n<tools>\n"
    + _TOOLS_JSON
    + "</tools>\nCall a function with <tool_call></tool_call> tags.<|im_end|>\n"
    "{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'system' and loop.first and tools %}"
    "{%- elif m.role == 'assistant' %}<|im_start|>assistant"
    "{%- if m.content %}{{ '\n' + m.content }}{%- endif %}"
    "{%- for tc in m.tool_calls %}\n<tool_call>\n"
    '{"name": "{{ tc.function.name }}", "arguments": {{ tc.function.arguments | tojson }}}\n</tool_call>'
    "{%- endfor %}<|im_end|>\n"
    "{%- elif m.role == 'tool' %}<|im_start|>user\n<tool_response>\n{{ m.content }}\n"
    "</tool_response><|im_end|>\n"
    "{%- else %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}"
)

GLM47 = (
    "[gMASK]<sop>{%- if tools %}<|system|>\n# Tools\n<tools>\n" + _TOOLS_JSON + "</tools>{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'system' %}<|system|>\n{{ m.content }}"
    "{%- elif m.role == 'user' %}<|user|>\n{{ m.content }}"
    "{%- elif m.role == 'assistant' %}<|assistant|>"
    "{%- if m.reasoning_content and clear_thinking is defined and not clear_thinking %}"
    "<think>{{ m.reasoning_content }}</think>{%- else %}</think>{%- endif %}"
    "{{ m.content }}"
    "{%- for tc in m.tool_calls %}<tool_call>{{ tc.function.name }}"
    "{%- for k, v in tc.function.arguments.items() %}<arg_key>{{ k }}</arg_key>"
    "<arg_value>{{ v | tojson(ensure_ascii=False) if v is not string else v }}</arg_value>{%- endfor %}"
    "</tool_call>{%- endfor %}"
    "{%- elif m.role == 'tool' %}<|observation|><tool_response>{{ m.content }}</tool_response>"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}<|assistant|>"
    "{{- '</think>' if enable_thinking is defined and not enable_thinking else '<think>' }}{%- endif %}"
)

GLM45 = (
    "[gMASK]<sop>{%- if tools %}<|system|>\n# Tools\n<tools>\n" + _TOOLS_JSON + "</tools>{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'system' %}<|system|>\n{{ m.content }}"
    "{%- elif m.role == 'user' %}<|user|>\n{{ m.content }}"
    "{%- elif m.role == 'assistant' %}<|assistant|>\n<think></think>"
    "{%- if m.content %}\n{{ m.content }}{%- endif %}"
    "{%- for tc in m.tool_calls %}\n<tool_call>{{ tc.function.name }}\n"
    "{%- for k, v in tc.function.arguments.items() %}<arg_key>{{ k }}</arg_key>\n"
    "<arg_value>{{ v | tojson(ensure_ascii=False) if v is not string else v }}</arg_value>\n{%- endfor %}"
    "</tool_call>{%- endfor %}"
    "{%- elif m.role == 'tool' %}<|observation|>\n<tool_response>\n{{ m.content }}\n</tool_response>"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}<|assistant|>\n<think></think>{%- endif %}"
)

QWEN3_CODER = (
    "{%- if tools %}<|im_start|>system\n{{ messages[0].content }}\n\n# Tools\n<tools>\n"
    + _TOOLS_JSON
    + "</tools><|im_end|>\n{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'system' and loop.first and tools %}"
    "{%- elif m.role == 'assistant' %}<|im_start|>assistant\n{{ m.content }}"
    "{%- for tc in m.tool_calls %}"
    "{%- if loop.first %}{{ '\n\n' if m.content else '' }}{%- else %}\n{%- endif %}"
    "<tool_call>\n<function={{ tc.function.name }}>\n"
    "{%- for k, v in tc.function.arguments | items %}<parameter={{ k }}>\n"
    "{{ v | tojson | safe if v is mapping or (v is sequence and v is not string) else v | string }}"
    "\n</parameter>\n{%- endfor %}</function>\n</tool_call>{%- endfor %}<|im_end|>\n"
    "{%- elif m.role == 'tool' %}<|im_start|>user\n<tool_response>\n{{ m.content }}\n"
    "</tool_response><|im_end|>\n"
    "{%- else %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}"
)

LLAMA3 = (
    "<|begin_of_text|>{%- if tools %}<|start_header_id|>system<|end_header_id|>\n\n"
    'Respond with a JSON {"name": function name, "parameters": arguments}.\n'
    + _TOOLS_JSON
    + "<|eot_id|>{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'assistant' and m.tool_calls %}<|start_header_id|>assistant<|end_header_id|>\n\n"
    '{"name": "{{ m.tool_calls[0].function.name }}", '
    '"parameters": {{ m.tool_calls[0].function.arguments | tojson }}}<|eot_id|>'
    "{%- elif m.role == 'tool' %}<|start_header_id|>ipython<|end_header_id|>\n\n{{ m.content }}<|eot_id|>"
    "{%- else %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n{{ m.content }}<|eot_id|>"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{%- endif %}"
)

MISTRAL_V11 = (
    "<s>{%- for m in messages %}"
    "{%- if m.role == 'system' %}[SYSTEM_PROMPT]{{ m.content }}[/SYSTEM_PROMPT]"
    "{%- if tools %}[AVAILABLE_TOOLS]{{ tools | tojson }}[/AVAILABLE_TOOLS]{%- endif %}"
    "{%- elif m.role == 'user' %}[INST]{{ m.content }}[/INST]"
    "{%- elif m.role == 'assistant' %}{{ m.content }}"
    "{%- for tc in m.tool_calls %}[TOOL_CALLS]{{ tc.function.name }}"
    "[ARGS]{{ tc.function.arguments | tojson }}"
    "{%- endfor %}</s>"
    "{%- elif m.role == 'tool' %}[TOOL_RESULTS]{{ m.content }}[/TOOL_RESULTS]"
    "{%- endif %}{%- endfor %}"
)

BY_FORMAT = {
    name: _keep_newlines(template)
    for name, template in {
        "hermes": QWEN25,
        "glm47": GLM47,
        "glm45": GLM45,
        "qwen3_coder": QWEN3_CODER,
        "llama3": LLAMA3,
        "mistral_v11": MISTRAL_V11,
    }.items()
}
